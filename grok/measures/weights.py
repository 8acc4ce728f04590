"""Sum of squared weights, in total and per component (every task)."""

from __future__ import annotations

from typing import Any

import torch

from grok.measures.base import Measure, MemberView

# component -> parameter-name prefixes (top-level modules) or infixes (inside a block)
COMPONENTS = {
    "embed": ("embed.",),
    "pos": ("pos_embed.",),
    "unembed": ("unembed.",),
    "norm": ("ln_final.", ".ln1.", ".ln2."),
    "attn": (".attn.",),
    "mlp": (".mlp.",),
}


def component(name: str) -> str:
    """By the module a parameter lives in: ``pos_embed.W_pos`` and ``unembed.W_U`` are not the
    embedding, though their names contain ``embed.``."""
    for part, marks in COMPONENTS.items():
        if any(name.startswith(m) if not m.startswith(".") else m in name for m in marks):
            return part
    return "other"


class WeightMeasure(Measure):
    """Nanda et al.'s fourth progress measure: weight decay shrinks the memorizing weights.

    Also the slingshot signature (Thilak et al. 2022): adaptive optimizers late in training
    go through cycles in which the norm of the last layer grows and the loss spikes. The
    last layer is the unembedding: ``weights/last_layer`` is ||W_U||_F (a norm, not squared,
    as they plot it), and ``weights/last_mlp_out`` ||W_out||_F of the last block's MLP, the
    last hidden matrix that writes into what W_U reads (absent in attention-only models).
    """

    name = "weights"

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        parts: dict[str, float] = {}
        for name, p in view.params.items():
            key = component(name)
            parts[key] = parts.get(key, 0.0) + float(p.double().square().sum())
        row = {f"weights/{k}": v for k, v in parts.items()}
        row["weights/total"] = sum(parts.values())
        row["weights/last_layer"] = _norm(view.params["unembed.W_U"])
        last_out = f"blocks.{view.model_cfg.n_layers - 1}.mlp.W_out"
        if last_out in view.params:
            row["weights/last_mlp_out"] = _norm(view.params[last_out])
        return row


def _norm(p: torch.Tensor) -> float:
    return float(p.double().square().sum().sqrt())

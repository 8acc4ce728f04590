"""Sum of squared weights, in total and per component (every task)."""

from __future__ import annotations

from typing import Any

import torch

from grok.measures.base import Measure, MemberView

COMPONENTS = {
    "embed": ("embed.",),
    "pos": ("pos_embed.",),
    "attn": (".attn.",),
    "mlp": (".mlp.",),
    "norm": (".ln1.", ".ln2.", "ln_final."),
    "unembed": ("unembed.",),
}


def component(name: str) -> str:
    return next((c for c, keys in COMPONENTS.items() if any(k in name for k in keys)), "other")


class WeightMeasure(Measure):
    """Nanda et al.'s fourth progress measure: weight decay shrinks the memorizing weights."""

    name = "weights"

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        parts: dict[str, float] = {}
        for name, p in view.params.items():
            key = component(name)
            parts[key] = parts.get(key, 0.0) + float(p.double().square().sum())
        row = {f"weights/{k}": v for k, v in parts.items()}
        row["weights/total"] = sum(parts.values())
        return row

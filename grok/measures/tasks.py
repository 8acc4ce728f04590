"""Task-specific measures for sine (seed 000), reversal (seed 004) and fraction (seed 002)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok.measures.base import Measure, MemberView
from grok.task.fraction import FractionTask
from grok.task.reversal import ReversalTask
from grok.task.sine import SineTask


def pca_explained(x: Tensor) -> Tensor:
    """Explained-variance ratios of the rows of ``x`` [samples, features], descending."""
    centered = x.double() - x.double().mean(0)
    s = torch.linalg.svdvals(centered)
    var = s.square()
    return var / var.sum().clamp(min=1e-300)


class SineMeasure(Measure):
    """Seed 000's analysis: PCA of the k-embedding and of W_pos, and W_pos's cosine-similarity
    structure (how strongly neighbouring x-grid positions align)."""

    name = "sine"

    def applies(self, task: Any) -> bool:
        return isinstance(task, SineTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        task: SineTask = view.task
        k = torch.linspace(task.k_min, task.k_max, 200, device=view.device)[:, None]
        p = view.params
        k_embed = k @ p["embed.W_E"] + p["embed.b_E"]  # [200, d_model]
        k_pca = pca_explained(k_embed)
        pos = p["pos_embed.W_pos"]
        pos_pca = pca_explained(pos)
        unit = pos / pos.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        cos = unit @ unit.T
        n = len(cos)
        off = cos[~torch.eye(n, dtype=torch.bool, device=cos.device)]
        return {
            "sine/k_pc1": float(k_pca[0]),
            "sine/k_pc3_cumulative": float(k_pca[:3].sum()),
            "sine/pos_pc1": float(pos_pca[0]),
            "sine/pos_pc3_cumulative": float(pos_pca[:3].sum()),
            "sine/pos_neighbor_cos": float(torch.diagonal(cos, 1).mean()),
            "sine/pos_mean_abs_cos": float(off.abs().mean()),
        }


def _attention_patterns(view: MemberView, x: Tensor) -> list[Tensor]:
    """Each layer's attention pattern [batch, heads, q, k] (via TL hooks)."""
    model = view.model
    _, cache = model.run_with_cache(x, names_filter=lambda name: name.endswith("hook_pattern"))
    return [cache["pattern", layer] for layer in range(model.cfg.n_layers)]


class ReversalMeasure(Measure):
    """Seed 004's study: attention mass on the mirrored input position per layer and head, and
    the accuracy drop when zero-ablating each attention and each MLP output (hooks, removed
    afterwards)."""

    name = "reversal"
    sample = 2048

    def applies(self, task: Any) -> bool:
        return isinstance(task, ReversalTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        task: ReversalTask = view.task
        x = view.test.x[: self.sample]
        y = view.test.y[: self.sample]
        L = task.length
        # Output position q (L..2L-1) predicts y_{q-L} = x_{2L-1-q} + 1, and x_j sits at
        # position 1 + j: the mirrored input of query q is position 2L - q.
        queries = torch.arange(L, 2 * L, device=x.device)
        mirrored = 2 * L - queries
        row: dict[str, Any] = {}
        for layer, pattern in enumerate(_attention_patterns(view, x)):
            mass = pattern[:, :, queries, mirrored].mean(dim=(0, 2))  # [heads]
            for h, value in enumerate(mass.tolist()):
                row[f"reversal/mirror_attn_L{layer}H{h}"] = value
        base = self._accuracy(view, x, y, None)
        row["reversal/acc"] = base
        for layer in range(view.model_cfg.n_layers):
            for part in ("attn_out", "mlp_out"):
                hook = f"blocks.{layer}.hook_{part}"
                row[f"reversal/ablate_{part}_L{layer}"] = base - self._accuracy(view, x, y, hook)
        return row

    @staticmethod
    def _accuracy(view: MemberView, x: Tensor, y: Tensor, ablate: str | None) -> float:
        hooks = [(ablate, lambda act, hook: torch.zeros_like(act))] if ablate else []
        logits = view.model.run_with_hooks(x, fwd_hooks=hooks)
        pred = logits[:, view.read_pos].argmax(-1)
        return float((pred == y).double().mean())


class FractionMeasure(Measure):
    """Seed 002: how much attention the final layer puts on 'x' tokens (the quantity the
    running fraction needs), against the share of x tokens it could attend to."""

    name = "fraction"
    sample = 1024

    def applies(self, task: Any) -> bool:
        return isinstance(task, FractionTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        task: FractionTask = view.task
        x = view.test.x[: self.sample]
        is_x = (x == task.x_token).double()  # [batch, key]
        causal = torch.tril(torch.ones(task.length, task.length, device=x.device)).double()
        share = (is_x[:, None, :] * causal).sum(-1) / causal.sum(-1)  # [batch, q]
        row = {"fraction/x_token_share": float(share.mean())}
        for layer, pattern in enumerate(_attention_patterns(view, x)):
            mass = (pattern.double() * is_x[:, None, None, :]).sum(-1)  # [batch, head, q]
            row[f"fraction/x_attn_L{layer}"] = float(mass.mean())
        return row

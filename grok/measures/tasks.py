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
    """Seed 004's study: attention mass on the mirrored input position per layer and head;
    the accuracy drop when ablating each attention and each MLP; and the seed's comparison
    of the final residual stream with the token embeddings.

    ``measures.reversal.ablate``: ``outputs`` zeroes each attention / MLP output (a hook,
    biases included); ``weights`` zeroes W_O / W_out and keeps the biases, as seed 004
    does (it reports layer-0 attention and both MLPs; every layer is ablated here).
    ``measures.reversal.sample``: holdout examples read (null: the whole holdout, as the
    seed evaluates).
    """

    name = "reversal"
    sample = 2048

    def __init__(self, cfg: Any = None):
        super().__init__(cfg)
        opts = (cfg or {}).get("reversal") or {}
        self.ablate = opts.get("ablate", "outputs")
        self.sample = opts.get("sample", self.sample)

    def applies(self, task: Any) -> bool:
        return isinstance(task, ReversalTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        task: ReversalTask = view.task
        x, y = view.test.x[: self.sample], view.test.y[: self.sample]
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
            if self.ablate == "weights":
                for module, weight in (("attn", "W_O"), ("mlp", "W_out")):
                    acc = self._without_weight(view, x, y, f"blocks.{layer}.{module}.{weight}")
                    row[f"reversal/ablate_{weight}_L{layer}"] = base - acc
            else:
                for part in ("attn_out", "mlp_out"):
                    hook = f"blocks.{layer}.hook_{part}"
                    row[f"reversal/ablate_{part}_L{layer}"] = base - self._accuracy(
                        view, x, y, hook
                    )
        return {**row, **self._embedding_match(view, x, y)}

    @staticmethod
    def _accuracy(view: MemberView, x: Tensor, y: Tensor, ablate: str | None) -> float:
        hooks = [(ablate, lambda act, hook: torch.zeros_like(act))] if ablate else []
        logits = view.model.run_with_hooks(x, fwd_hooks=hooks)
        pred = logits[:, view.read_pos].argmax(-1)
        return float((pred == y).double().mean())

    @classmethod
    def _without_weight(cls, view: MemberView, x: Tensor, y: Tensor, name: str) -> float:
        """Accuracy with one weight zeroed in place (seed 004's ``ablate_linear_weight``),
        restored afterwards."""
        weight = view.model.get_parameter(name)
        backup = weight.detach().clone()
        weight.zero_()
        try:
            return cls._accuracy(view, x, y, None)
        finally:
            weight.copy_(backup)

    @staticmethod
    def _embedding_match(view: MemberView, x: Tensor, y: Tensor) -> dict[str, float]:
        """Seed 004's ``compare_to_embeddings``: cosine of the last block's resid_post at each
        output position with the embeddings of the symbols; how often the closest is the
        target, and the mean cosine with the target's embedding."""
        _, resid = view.model(x, read_pos=view.read_pos, return_resid=True)
        cos = embedding_cosines(resid, view.model.W_E[: view.task.vocab])
        return {
            "reversal/embed_cos_match": float((cos.argmax(-1) == y).double().mean()),
            "reversal/embed_cos_target": float(cos.gather(-1, y[..., None]).double().mean()),
        }


def embedding_cosines(resid: Tensor, embeddings: Tensor) -> Tensor:
    """Cosine similarity [..., tokens] of residual vectors [..., d] with embedding rows, with
    seed 004's clamp of each norm at 1e-9."""
    unit = resid / resid.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    rows = embeddings / embeddings.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    return unit @ rows.T


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

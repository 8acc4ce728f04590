"""⊥Grad (Prieto et al., ICLR 2025, "Grokking at the edge of numerical stability").

Per parameter tensor, before any base optimizer: remove the gradient's component along
the weights, g_perp = g - (w.g)/(w.w) w, and rescale it to the gradient's norm:
g <- g_perp ||g|| / ||g_perp||. The component along w only scales the logits (their "naive
loss minimization" direction), which drives softmax collapse.

As the reference ``orthograd.py`` (github.com/LucasPrietoAl/grokking-at-the-edge-of-
numerical-stability), 1e-30 guards both divisions, so a tensor of zeros (a bias at init)
keeps its gradient. The base optimizer is ours and keeps every setting of its config
(betas, eps, wd ...): their wrapper silently dropped ``betas`` (their issue #11). Dot
products and norms reduce within one member, in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from grok import checks
from grok.optim.stage import Stage, member_col, member_sum

EPS = 1e-30  # the reference's guard in w.w and ||g_perp||


def orthogonalize(w: Tensor, g: Tensor) -> Tensor:
    """g_perp rescaled to ||g||, for each member of w, g: [G, ...]."""
    w64, g64 = w.double(), g.double()
    proj = member_sum(w64 * g64) / (member_sum(w64 * w64) + EPS)
    perp = g - member_col(proj, g) * w
    perp64 = perp.double()
    scale = member_sum(g64 * g64).sqrt() / (member_sum(perp64 * perp64).sqrt() + EPS)
    return perp * member_col(scale, perp)


def problems(cfg: Any) -> list[str]:
    return checks.boolean("optim.orthograd", cfg.get("orthograd"))


class OrthoGrad(Stage):
    """``orthogonalize`` for the members with ``optim.orthograd: true``."""

    @classmethod
    def build(cls, params: dict[str, Tensor], members: Sequence[Any]) -> OrthoGrad | None:
        on = [bool(m.get("orthograd", False)) for m in members]
        return cls(params, on) if any(on) else None

    def before(self, grads: dict[str, Tensor], group: slice, step: Tensor) -> dict[str, Tensor]:
        if not self.active(group):
            return grads
        out = {}
        for name, g in grads.items():
            w = self.params[name][group]
            out[name] = self.select(group, orthogonalize(w, g), g)
        return out

"""Omnigrok's norm constraint (Liu et al., ICLR 2023, "Omnigrok: grokking beyond algorithmic
data"): after every step the weights are rescaled, w <- w * sqrt(L2_0 / L2_t), so that their
total L2 norm over every trained tensor stays at its initial value (or
``optim.fixed_norm_value``). The norm is each member's own, never the pack's; the target is
checkpointed, so a resumed run keeps the norm it started with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.optim.schedule import column
from grok.optim.stage import Stage, member_col, member_sum


def problems(cfg: Any) -> list[str]:
    errors = checks.boolean("optim.fixed_norm", cfg.get("fixed_norm"))
    errors += checks.number(
        "optim.fixed_norm_value",
        cfg.get("fixed_norm_value"),
        gt=0,
        null=True,
        text="must be null (the initial norm) or a number > 0",
    )
    return errors


def total_norm(params: dict[str, Tensor], group: slice) -> Tensor:
    """Each member's L2 norm over all its tensors, float64 [G]."""
    return sum(member_sum(p[group].double().square()) for p in params.values()).sqrt()


class FixedNorm(Stage):
    """Rescale the members with ``optim.fixed_norm: true`` to their target norm."""

    @classmethod
    def build(cls, params: dict[str, Tensor], members: Sequence[Any]) -> FixedNorm | None:
        on = [bool(m.get("fixed_norm", False)) for m in members]
        return cls(params, on, [m.get("fixed_norm_value") for m in members]) if any(on) else None

    def __init__(self, params: dict[str, Tensor], on: list[bool], values: list[Any]):
        super().__init__(params, on)
        with torch.no_grad():
            initial = self._initial(values)
        self.target = column(initial, self.device)

    def _initial(self, values: list[Any]) -> list[float]:
        return [
            float(total_norm(self.params, slice(i, i + 1))[0]) if v is None else float(v)
            for i, v in enumerate(values)
        ]

    @torch.no_grad()
    def after(self, group: slice) -> None:
        if not self.active(group):
            return
        scale = self.target[group] / total_norm(self.params, group)
        for p in self.params.values():
            view = p[group]
            view.copy_(self.select(group, view * member_col(scale, view), view))

    def state_tensors(self) -> list[Tensor]:
        return [self.target]

    def member_state(self, index: int) -> dict[str, Any]:
        return {"target": float(self.target[index])} if self.on[index] else {}

    @torch.no_grad()
    def load_member_state(self, index: int, saved: dict[str, Any]) -> None:
        if "target" in saved:
            self.target[index].fill_(saved["target"])

"""Stages around a stacked optimizer's update: gradient filters before it, projections after.

A grokking method that is not an optimizer of its own (Grokfast, ⊥Grad, a fixed weight
norm) is a ``Stage``: the optimizer calls ``before`` on each group's gradients (after
backward, before clipping and the update) and ``after`` on the group's parameters once they
are updated. A stage is switched on per member: within a group it runs only when one of
the group's members uses it (decided on the host from the configs, never from tensor
values), and in a fused group that mixes members with and without it, ``select`` keeps the
others' values untouched. On CPU every group is one member, so a member computes exactly
what it computes alone.

Reductions (dot products, norms) stay within one member (``member_sum``), and every stage
keeps its state in tensors updated in place (CUDA-graph capturable) with a member axis
first; ``member_state`` / ``load_member_state`` checkpoint one member independently of the
pack it trained in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def member_sum(x: Tensor) -> Tensor:
    """Sum over every axis but the first (the members), in float64: [G].

    On CPU one member at a time: torch splits a [G, K] row reduction across threads
    differently from a lone [K] one, and a packed member must match its lone run bit for
    bit. On GPU one batched reduction keeps the step cheap."""
    x = x.double()
    if x.device.type == "cpu":
        return torch.stack([row.sum() for row in x])
    return x.flatten(1).sum(1)


def member_col(values: Tensor, like: Tensor) -> Tensor:
    """[G] -> [G, 1, ..., 1] in ``like``'s dtype, to broadcast over one member's tensor."""
    return values.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def mask_col(mask: Tensor, like: Tensor) -> Tensor:
    """[G] bool -> [G, 1, ..., 1] bool."""
    return mask.view(-1, *([1] * (like.ndim - 1)))


def pick(on: Sequence[bool], mask: Tensor, group: slice, new: Tensor, old: Tensor) -> Tensor:
    """``new`` for the members of ``group`` flagged in ``on`` (``mask`` on the device),
    ``old`` for the rest; no ``where`` when the whole group is flagged."""
    if all(on[group]):
        return new
    return torch.where(mask_col(mask[group], new), new, old)


class Stage:
    """Base: which members use the stage (``on``) and the per-member plumbing."""

    def __init__(self, params: dict[str, Tensor], on: Sequence[bool]):
        self.params = params
        self.on = list(on)
        self.device = next(iter(params.values())).device
        self.on_mask = torch.tensor(self.on, device=self.device)

    def active(self, group: slice) -> bool:
        """Whether any member of ``group`` uses this stage (host-side, from the configs)."""
        return any(self.on[group])

    def select(self, group: slice, new: Tensor, old: Tensor) -> Tensor:
        """``new`` for the group's members that use the stage, ``old`` for the others."""
        return pick(self.on, self.on_mask, group, new, old)

    def before(self, grads: dict[str, Tensor], group: slice, step: Tensor) -> dict[str, Tensor]:
        """Gradients of ``group`` after this stage; ``step`` counts steps including this one."""
        return grads

    def after(self, group: slice) -> None:
        """Act on the group's parameters once the optimizer has updated them."""

    def state_tensors(self) -> list[Tensor]:
        """Every state tensor (a CUDA-graph capture snapshots and restores them)."""
        return []

    def member_state(self, index: int) -> dict[str, Any]:
        return {}

    def load_member_state(self, index: int, saved: dict[str, Any]) -> None:
        pass

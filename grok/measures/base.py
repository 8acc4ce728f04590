"""The measure interface."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.func import functional_call


class Measure:
    """Computes named values for every member of a pack (``compute`` -> one dict each).

    ``every_factor`` lets an expensive measure (LLC) run only every k-th measure step.
    """

    name: ClassVar[str]
    every_factor: int = 1

    def __init__(self, cfg: Any = None):
        self.cfg = cfg

    def applies(self, task: Any) -> bool:
        return True

    def compute(self, trainer: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


def member_params(trainer: Any, index: int) -> dict[str, Tensor]:
    return {k: v[index].detach() for k, v in trainer.params.items()}


@torch.no_grad()
def member_forward(
    trainer: Any,
    index: int,
    x: Tensor,
    read_pos: slice | None = None,
    neurons: bool = False,
    resid: bool = False,
) -> Any:
    """Member ``index``'s forward pass on inputs ``x`` [batch, ...] (no member axis);
    ``neurons`` / ``resid`` add the outputs of ``Transformer.forward``'s ``return_*``."""
    kwargs = {"read_pos": read_pos, "return_neurons": neurons, "return_resid": resid}
    return functional_call(trainer.template, member_params(trainer, index), (x,), kwargs)

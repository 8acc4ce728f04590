"""The measure interface: a measure sees one member at a time, through ``MemberView``.

A view holds exactly what the member would have alone: its own config, task, weights and
train/test split (no padding, no other member's rows), so a packed member's measures are
its lone run's by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import Tensor

from grok.model import build_model


@dataclass(frozen=True)
class Examples:
    """One member's examples of one split, in its own order: x [n, ...], y [n, P]."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class MemberView:
    """What a measure may read of one member at one epoch (see the module docstring)."""

    cfg: Any  # the member's resolved config (DictConfig)
    task: Any  # its grok.task.Task
    model_cfg: Any  # its grok.model.TransformerConfig (architecture and init)
    params: dict[str, Tensor]  # its current weights, keyed as model.named_parameters()
    train: Examples
    test: Examples
    epoch: int
    device: torch.device

    @cached_property
    def model(self) -> Any:
        """A standalone TL-compatible model holding these weights (gradients off)."""
        model = build_model(self.model_cfg).to(self.device)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(self.params[name])
        model.requires_grad_(False)
        return model.eval()

    @property
    def read_pos(self) -> slice:
        return self.task.read_pos


class Measure:
    """Computes named values for one member (``compute`` -> a dict of JSON-able values).

    ``every_factor`` lets an expensive measure (LLC) run only at every k-th measure epoch.
    """

    name: ClassVar[str]
    every_factor: int = 1

    def __init__(self, cfg: Any = None):
        self.cfg = cfg

    def applies(self, task: Any) -> bool:
        return True

    def compute(self, view: MemberView) -> dict[str, Any]:
        raise NotImplementedError

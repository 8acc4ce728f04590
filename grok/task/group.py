"""Composition in a finite group (Chughtai et al., ICML 2023, "A Toy Model of Universality"):
inputs [x, y, =] over the elements of ``task.group``, label x·y, all |G|^2 pairs.

Elements are indexed as in their repo (``grok.task.groups``), so their released models read
grok's tokens; '=' is token |G|. ``C<n>`` is the modular family's addition mod n, with the
group machinery (``grok.task.irreps``) instead of the Fourier one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok.errors import ConfigError
from grok.task.groups import Group, parse_group
from grok.task.pairs import PairTask


class GroupTask(PairTask):
    name = "group"

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.group: Group = parse_group(str(cfg.group))

    @property
    def n_elements(self) -> int:
        return self.group.order

    @property
    def n_examples(self) -> int:
        return self.group.order**2

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        errors = super().problems(cfg)
        try:
            parse_group(cfg.get("group"))
        except ConfigError as e:
            errors.append(str(e))
        return errors

    def pairs(self) -> tuple[Tensor, Tensor]:
        """Every pair, x major and y minor (their ``generate_all_data`` order)."""
        n = self.group.order
        return torch.arange(n).repeat_interleave(n), torch.arange(n).repeat(n)

    def labels(self, a: Tensor, b: Tensor) -> Tensor:
        return self.group.table[a, b]

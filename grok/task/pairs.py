"""Binary operations on a finite set: inputs [x, y, =] over n elements, label x ∘ y.

The modular family (Z_p) and the finite groups share how operand pairs become tokens and
which variants exist (Zhong et al. 2023's ``task.eq_token`` / ``task.diff_vocab``); a task
of this kind gives its element count, its pairs and their labels.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.task.base import ClassificationTask


class PairTask(ClassificationTask):
    def __init__(self, cfg: Any):
        super().__init__(cfg)
        # Zhong et al. 2023 (code/train-main.py): inputs [a, b] without '=' (their default),
        # and b's elements as tokens n..2n-1 of their own (diff_vocab)
        # (absent from run dirs written before them: conf/task/*.yaml's defaults)
        self.eq_token = bool(cfg.get("eq_token", True))
        self.diff_vocab = bool(cfg.get("diff_vocab", False))

    @property
    @abstractmethod
    def n_elements(self) -> int:
        """Size of the set the operation acts on: input tokens and output classes."""

    @abstractmethod
    def pairs(self) -> tuple[Tensor, Tensor]:
        """Every operand pair (x [N], y [N]) of the dataset, in its documented order."""

    @abstractmethod
    def labels(self, a: Tensor, b: Tensor) -> Tensor:
        """x ∘ y [N] for operands a, b [N]."""

    @property
    def d_vocab(self) -> int:
        # elements 0..n-1 (b's again at n..2n-1 with diff_vocab), then '=' when present
        return self.n_elements * (2 if self.diff_vocab else 1) + int(self.eq_token)

    @property
    def d_vocab_out(self) -> int:
        return self.n_elements

    @property
    def n_ctx(self) -> int:
        return 3 if self.eq_token else 2

    @property
    def position_names(self) -> list[str]:
        return ["a", "b", "="][: self.n_ctx]

    @property
    def operand_positions(self) -> tuple[int, ...]:
        return (0, 1)  # a and b; never '='

    def encode(self, a: Tensor, b: Tensor) -> Tensor:
        """Input tokens [N, n_ctx] of the operand pairs (a, b): [a, b, =] ('=' the last
        token), [a, b] without ``eq_token``; b shifted by n with ``diff_vocab``."""
        columns = [a, b + self.n_elements if self.diff_vocab else b]
        if self.eq_token:
            columns.append(torch.full_like(a, self.d_vocab - 1))
        return torch.stack(columns, dim=1)

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        errors = super().problems(cfg)
        errors += checks.boolean("task.eq_token", cfg.get("eq_token"))
        errors += checks.boolean("task.diff_vocab", cfg.get("diff_vocab"))
        return errors

    def dataset(self) -> tuple[Tensor, Tensor]:
        a, b = self.pairs()
        return self.encode(a, b), self.labels(a, b)[:, None]

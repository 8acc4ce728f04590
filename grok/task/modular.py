"""Modular arithmetic over Z_p: inputs [a, b, =] with '=' the token p, p output classes."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok.task.base import Task

OPERATIONS = {
    "sub": lambda a, b, p: (a - b) % p,
}


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


class ModularTask(Task):
    name = "modular"

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.p = int(cfg.p)
        self.op = str(cfg.op)

    @property
    def d_vocab(self) -> int:
        return self.p + 1  # residues 0..p-1 and '='

    @property
    def d_vocab_out(self) -> int:
        return self.p

    @property
    def n_ctx(self) -> int:
        return 3

    @classmethod
    def validate(cls, cfg: Any) -> list[str]:
        errors = super().validate(cfg)
        p = cfg.get("p")
        if not isinstance(p, int) or isinstance(p, bool) or p < 3 or not is_prime(p):
            errors.append(f"task.p={p!r}: must be a prime >= 3 (for example 47, 97 or 113)")
        if cfg.get("op") not in OPERATIONS:
            errors.append(f"task.op={cfg.get('op')!r}: allowed operations are {sorted(OPERATIONS)}")
        return errors

    def pairs(self) -> tuple[Tensor, Tensor]:
        """All p^2 operand pairs in seed 001's order: a major, b minor."""
        a = torch.arange(self.p).repeat_interleave(self.p)
        b = torch.arange(self.p).repeat(self.p)
        return a, b

    def dataset(self) -> tuple[Tensor, Tensor]:
        a, b = self.pairs()
        equals = torch.full_like(a, self.p)
        targets = OPERATIONS[self.op](a, b, self.p)
        return torch.stack([a, b, equals], dim=1), targets[:, None]

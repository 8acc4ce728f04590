"""Modular arithmetic over Z_p: inputs [a, b, =] with '=' the token p, p output classes
(``task.eq_token`` and ``task.diff_vocab`` give Zhong et al.'s variants: ``grok.task.pairs``).

``task=modular task.op=<op>`` selects the operation (seed 003's operation study);
``task=modadd|modsub|modmul|moddiv`` are shorthands. Division pairs exclude b = 0
and use the inverse b^(p-2) (Fermat); ``rand`` is a control with no structure: a
fixed random table of labels drawn with ``task.table_seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.task.pairs import PairTask


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


def inverse(b: Tensor, p: int) -> Tensor:
    """Modular inverse by Fermat's little theorem (b != 0), exact in int64 for p < 2^31."""
    result, base, exp = torch.ones_like(b), b % p, p - 2
    while exp:
        if exp & 1:
            result = result * base % p
        base, exp = base * base % p, exp >> 1
    return result


Op = Callable[[Tensor, Tensor, int], Tensor]
OPERATIONS: dict[str, Op] = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: a * b % p,
    "div": lambda a, b, p: a * inverse(b, p) % p,
    "x2+y2": lambda a, b, p: (a * a + b * b) % p,
    "x2+xy+y2": lambda a, b, p: (a * a + a * b + b * b) % p,
    "x3+xy": lambda a, b, p: (a * a % p * a + a * b) % p,
    "rand": lambda a, b, p: a,  # placeholder; labels come from ModularTask.random_table
}


class ModularTask(PairTask):
    name = "modular"

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.p = int(cfg.p)
        self.op = str(cfg.op)

    @property
    def n_elements(self) -> int:
        return self.p

    @property
    def n_examples(self) -> int:
        return self.p * (self.p - 1) if self.op == "div" else self.p * self.p

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        errors = super().problems(cfg)
        p = cfg.get("p")
        if not checks.is_integer(p) or p < 3 or not is_prime(p):
            errors.append(f"task.p={p!r}: must be a prime >= 3 (for example 47, 97 or 113)")
        op = cfg.get("op")
        errors += checks.choice(
            "task.op", op, OPERATIONS, text=f"allowed operations are {list(OPERATIONS)}"
        )
        return errors

    def pairs(self) -> tuple[Tensor, Tensor]:
        """Operand pairs in seed 001's order (a major, b minor); b = 0 dropped for div."""
        a = torch.arange(self.p).repeat_interleave(self.p)
        b = torch.arange(self.p).repeat(self.p)
        if self.op == "div":
            keep = b != 0
            a, b = a[keep], b[keep]
        return a, b

    def random_table(self) -> Tensor:
        gen = torch.Generator().manual_seed(int(self.cfg.get("table_seed", 0)))
        return torch.randint(0, self.p, (self.p, self.p), generator=gen)

    def labels(self, a: Tensor, b: Tensor) -> Tensor:
        if self.op == "rand":
            return self.random_table()[a, b]
        return OPERATIONS[self.op](a, b, self.p)

    def shape_key(self) -> tuple:
        # div drops the b = 0 pairs, so it cannot share a pack's example count with the others
        return (*super().shape_key(), self.op == "div")

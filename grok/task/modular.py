"""Modular arithmetic over Z_p: inputs [a, b, =] with '=' the token p, p output classes
(``task.eq_token`` and ``task.diff_vocab`` give Zhong et al.'s variants, see ``encode``).

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
from grok.task.base import ClassificationTask


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


class ModularTask(ClassificationTask):
    name = "modular"

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.p = int(cfg.p)
        self.op = str(cfg.op)
        # Zhong et al. 2023 (code/train-main.py): inputs [a, b] without '=' (their default),
        # and b's residues as tokens p..2p-1 of their own (diff_vocab)
        # (absent from run dirs written before them: conf/task/modular.yaml's defaults)
        self.eq_token = bool(cfg.get("eq_token", True))
        self.diff_vocab = bool(cfg.get("diff_vocab", False))

    @property
    def d_vocab(self) -> int:
        # residues 0..p-1 (b's again at p..2p-1 with diff_vocab), then '=' when present
        return self.p * (2 if self.diff_vocab else 1) + int(self.eq_token)

    @property
    def d_vocab_out(self) -> int:
        return self.p

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
        """Input tokens [n, n_ctx] of the operand pairs (a, b): [a, b, =] ('=' the last
        token), [a, b] without ``eq_token``; b shifted by p with ``diff_vocab``."""
        columns = [a, b + self.p if self.diff_vocab else b]
        if self.eq_token:
            columns.append(torch.full_like(a, self.d_vocab - 1))
        return torch.stack(columns, dim=1)

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
        errors += checks.boolean("task.eq_token", cfg.get("eq_token"))
        errors += checks.boolean("task.diff_vocab", cfg.get("diff_vocab"))
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

    def dataset(self) -> tuple[Tensor, Tensor]:
        a, b = self.pairs()
        return self.encode(a, b), self.labels(a, b)[:, None]

    def shape_key(self) -> tuple:
        # div drops the b = 0 pairs, so it cannot share a pack's example count with the others
        return (*super().shape_key(), self.op == "div")

"""Sparse parity (Barak et al., NeurIPS 2022, "Hidden Progress in Deep Learning: SGD Learns
Parities Near the Computational Limit"): n random bits, label the XOR of k of them.

The k relevant positions (``relevant``, sorted) are the first k of ``torch.randperm(n)``
under ``task.subset_seed``, so the secret subset and the examples (``task.data_seed``) vary
independently. ``task.n_samples`` strings are drawn uniformly, with replacement, from the
data RNG (``Task.generator``); null takes all 2^n strings (n <= 20), bit j of string i being
bit j of the integer i. The split is every task's (``train_frac``, ``split``).

Inputs are n tokens in {0, 1} (d_vocab 2, n_ctx n); the transformer reads the last position
(the default), the MLP every position (``operand_positions``). Barak et al. feed ±1 vectors
to an MLP; with one shared 2-token embedding (``model.mlp_embed=shared``) concatenated
(``mlp_combine=concat``) the first layer is W_in applied to [E[x_1], ..., E[x_n]], i.e.
bias + Σ_j x_j (E[1] − E[0]) W_in_j: an affine function of the bits, so the same function
class as theirs (a bit's weight is (E[1] − E[0]) W_in_j, what ``parity/*`` measures).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.task.base import ClassificationTask

MAX_ALL_BITS = 20  # task.n_samples=null enumerates 2^n strings: 2^20 is ~1M examples


class ParityTask(ClassificationTask):
    name = "sparse_parity"

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.n_bits = int(cfg.n_bits)
        self.k = int(cfg.k)
        self.subset_seed = int(cfg.subset_seed)
        self.n_samples = None if cfg.get("n_samples") is None else int(cfg.n_samples)
        gen = torch.Generator().manual_seed(self.subset_seed)
        chosen = torch.randperm(self.n_bits, generator=gen)[: self.k]
        self.relevant: tuple[int, ...] = tuple(sorted(int(i) for i in chosen))

    @property
    def d_vocab(self) -> int:
        return 2

    @property
    def d_vocab_out(self) -> int:
        return 2

    @property
    def n_ctx(self) -> int:
        return self.n_bits

    @property
    def n_examples(self) -> int:
        return 2**self.n_bits if self.n_samples is None else self.n_samples

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        errors = super().problems(cfg)
        n, k, n_samples = cfg.get("n_bits"), cfg.get("k"), cfg.get("n_samples")
        errors += checks.integer("task.n_bits", n, low=1)
        errors += checks.integer("task.subset_seed", cfg.get("subset_seed"), low=0)
        errors += checks.integer(
            "task.n_samples", n_samples, low=2, null=True, text="must be null (all 2^n) or >= 2"
        )
        if not checks.is_integer(n) or n < 1:
            return errors + checks.integer("task.k", k, low=1)
        if not (checks.is_integer(k) and 1 <= k <= n):
            allowed = f"must be an integer in [1, task.n_bits={n}]"
            errors.append(checks.problem("task.k", k, allowed))
        if n_samples is None and n > MAX_ALL_BITS:
            errors.append(
                f"task.n_samples=None: all 2^{n} strings are too many; null needs "
                f"task.n_bits <= {MAX_ALL_BITS}, else give a number of samples"
            )
        return errors

    def bits(self) -> Tensor:
        """Every example's bits [N, n] (int64, 0/1), in dataset order."""
        if self.n_samples is None:
            index = torch.arange(2**self.n_bits)
            return (index[:, None] >> torch.arange(self.n_bits)) & 1
        return torch.randint(0, 2, (self.n_samples, self.n_bits), generator=self.generator())

    def labels(self, bits: Tensor) -> Tensor:
        """XOR of the relevant bits [N]."""
        return bits[:, list(self.relevant)].sum(-1) % 2

    def dataset(self) -> tuple[Tensor, Tensor]:
        x = self.bits()
        return x, self.labels(x)[:, None]

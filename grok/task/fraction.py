"""Running fraction (seed 002): at each position i, the fraction of 'x' among tokens 0..i.

Sequences of ``length`` tokens over ``vocab`` letters (token ``x_token`` is 'x');
each holds a number of x's drawn uniformly from ``x_count`` = [lo, hi], the rest
uniform over the other letters, in random order. Attention is causal; the model
outputs one value per position through a sigmoid.

Seed 002's comment says "at least 1 x" while it draws 0..5; here the range is
explicit config (default [1, 5]; ``experiment=fraction_seed`` uses the seed's 0..5).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.task.base import Milestone, RegressionTask


class FractionTask(RegressionTask):
    name = "fraction"
    milestone = Milestone("mae", higher_is_better=False, threshold=0.01)

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.n_samples = int(cfg.n_samples)
        self.length = int(cfg.length)
        self.vocab = int(cfg.vocab)
        self.x_token = int(cfg.x_token)
        self.x_count = (int(cfg.x_count[0]), int(cfg.x_count[1]))

    @property
    def d_vocab(self) -> int:
        return self.vocab

    @property
    def n_examples(self) -> int:
        return self.n_samples

    @property
    def n_ctx(self) -> int:
        return self.length

    @property
    def read_pos(self) -> slice:
        return slice(0, self.length)

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        errors = super().problems(cfg)
        for key, low in (("n_samples", 2), ("length", 1), ("vocab", 2), ("x_token", 0)):
            errors += checks.integer(f"task.{key}", cfg.get(key), low)
        if errors:
            return errors
        if cfg.x_token >= cfg.vocab:
            errors.append(f"task.x_token={cfg.x_token}: must be < task.vocab={cfg.vocab}")
        count = cfg.get("x_count")
        if (
            count is None
            or len(count) != 2
            or not all(isinstance(c, int) for c in count)
            or not 0 <= count[0] <= count[1] <= cfg.length
        ):
            errors.append(
                f"task.x_count={list(count) if count is not None else None}: must be [lo, hi] "
                f"with 0 <= lo <= hi <= task.length={cfg.length}"
            )
        return errors

    @staticmethod
    def running_fraction(seq: Tensor, x_token: int) -> Tensor:
        is_x = (seq == x_token).float()
        return is_x.cumsum(-1) / torch.arange(1, seq.shape[-1] + 1)

    def dataset(self) -> tuple[Tensor, Tensor]:
        gen = self.generator()
        n, length = self.n_samples, self.length
        lo, hi = self.x_count
        counts = torch.randint(lo, hi + 1, (n,), generator=gen)
        others = torch.randint(0, self.vocab - 1, (n, length), generator=gen)
        others = others + (others >= self.x_token).long()  # uniform over letters other than x
        slots = torch.rand(n, length, generator=gen).argsort(dim=-1)  # random positions for x's
        is_x = slots < counts[:, None]
        seqs = torch.where(is_x, self.x_token, others)
        return seqs, self.running_fraction(seqs, self.x_token)

    def predictions(self, outputs: Tensor) -> Tensor:
        logits = outputs[..., 0]
        if logits.ndim < 3:
            return torch.sigmoid(logits)
        # [members, n, P]: one member at a time. CPU sigmoid runs SIMD code over most of a
        # tensor and scalar code over its tail, which round differently; per member, a packed
        # member's elements fall where they would in a lone run (pack == alone, bitwise).
        return torch.stack([torch.sigmoid(member) for member in logits])

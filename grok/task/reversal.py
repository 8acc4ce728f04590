"""Sequence reversal (seed 004): BOS, L tokens over V symbols, then their reverse + 1 mod V.

The model reads ``[BOS, x_0..x_{L-1}, y_0..y_{L-2}]`` (2L tokens) and predicts each
next token; the loss reads only the L positions whose next token is an output y.
With the defaults (L=8, V=4) the dataset is all 4^8 = 65,536 sequences.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.task.base import ClassificationTask


class ReversalTask(ClassificationTask):
    name = "reversal"
    metric_names = ("acc", "seq_acc")

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.length = int(cfg.length)
        self.vocab = int(cfg.vocab)

    @property
    def bos(self) -> int:
        return self.vocab

    @property
    def d_vocab(self) -> int:
        return self.vocab + 1

    @property
    def d_vocab_out(self) -> int:
        return self.vocab + 1  # as seed 004's HookedTransformer (d_vocab_out = d_vocab)

    @property
    def n_ctx(self) -> int:
        return 2 * self.length

    @property
    def read_pos(self) -> slice:
        return slice(self.length, 2 * self.length)

    @property
    def n_examples(self) -> int:
        return self.vocab**self.length

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        errors = super().problems(cfg)
        errors += checks.integer("task.length", cfg.get("length"), 1)
        errors += checks.integer("task.vocab", cfg.get("vocab"), 2)
        length, vocab = cfg.get("length"), cfg.get("vocab")
        if not errors and vocab**length > 2**24:
            errors.append(
                f"task.length={length}, task.vocab={vocab}: {vocab}^{length} sequences is too "
                "many to enumerate (limit 2^24)"
            )
        return errors

    @staticmethod
    def reverse(seq: Tensor, vocab: int) -> Tensor:
        """The output for input ``seq`` [..., L]: reversed, each token + 1 mod vocab."""
        return torch.flip((seq + 1) % vocab, dims=[-1])

    def dataset(self) -> tuple[Tensor, Tensor]:
        seqs = torch.tensor(list(itertools.product(range(self.vocab), repeat=self.length)))
        outs = self.reverse(seqs, self.vocab)
        bos = torch.full((len(seqs), 1), self.bos)
        inputs = torch.cat([bos, seqs, outs[:, :-1]], dim=1)
        return inputs, outs

    def example_metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        right = (outputs.argmax(dim=-1) == targets).double()
        return {"acc": right.mean(dim=-1), "seq_acc": right.min(dim=-1).values}

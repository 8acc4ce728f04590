"""What every task provides, so trainer, measures and outputs never branch on a task's name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from grok.errors import ConfigError


@dataclass(frozen=True)
class Split:
    """Example indices into the task's full dataset."""

    train: Tensor
    test: Tensor


class Task(ABC):
    """A dataset, its split, and how a model's outputs are scored.

    Subclasses declare ``name`` and register through ``grok.task.register``.
    ``shape_key`` names what must agree for two configurations to train in one
    fused pack (vocabulary, context, output size); everything else (seeds,
    split fraction, the operation) may differ between members.
    """

    name: ClassVar[str]

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self.train_frac = float(cfg.train_frac)
        self.data_seed = int(cfg.data_seed)

    # --- description -------------------------------------------------------
    @property
    @abstractmethod
    def d_vocab(self) -> int: ...

    @property
    @abstractmethod
    def d_vocab_out(self) -> int: ...

    @property
    @abstractmethod
    def n_ctx(self) -> int: ...

    @property
    def read_pos(self) -> slice:
        """Positions whose outputs carry the loss (default: the last one)."""
        return slice(self.n_ctx - 1, self.n_ctx)

    def shape_key(self) -> tuple:
        pos = self.read_pos.indices(self.n_ctx)
        return (self.name, self.d_vocab, self.d_vocab_out, self.n_ctx, pos)

    @classmethod
    def validate(cls, cfg: Any) -> list[str]:
        """Problems with ``cfg`` as 'key=value: what is allowed' strings."""
        errors = []
        frac = cfg.get("train_frac")
        if not isinstance(frac, int | float) or not 0 < frac < 1:
            errors.append(f"task.train_frac={frac!r}: must be a number strictly between 0 and 1")
        seed = cfg.get("data_seed")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            errors.append(f"task.data_seed={seed!r}: must be a non-negative integer")
        return errors

    # --- data ----------------------------------------------------------------
    @abstractmethod
    def dataset(self) -> tuple[Tensor, Tensor]:
        """All examples: inputs [N, n_ctx] (long tokens) and targets [N, len(read_pos)]."""

    def split(self, n_examples: int) -> Split:
        """Seeded random split; ``torch.randperm`` under ``data_seed`` as in seed 001."""
        gen = torch.Generator().manual_seed(self.data_seed)
        perm = torch.randperm(n_examples, generator=gen)
        cut = int(n_examples * self.train_frac)
        if cut < 1 or cut >= n_examples:
            raise ConfigError(
                f"task.train_frac={self.train_frac} leaves {cut} of {n_examples} examples "
                "for training; both splits need at least one"
            )
        return Split(train=perm[:cut], test=perm[cut:])

    # --- scoring -------------------------------------------------------------
    def loss_terms(self, logits: Tensor, targets: Tensor, loss_dtype: torch.dtype) -> Tensor:
        """Per-example loss [..., n] from logits [..., n, P, C] and targets [..., n, P].

        Class-logit tasks: cross-entropy in ``loss_dtype`` (float64 as in seed 001:
        grokked models reach losses near 1e-7, below float32 resolution).
        """
        logp = logits.to(loss_dtype).log_softmax(dim=-1)
        nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return nll.mean(dim=-1)

    def correct(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Per-example accuracy in [0, 1]: the fraction of read positions right."""
        return (logits.argmax(dim=-1) == targets).float().mean(dim=-1)

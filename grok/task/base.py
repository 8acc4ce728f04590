"""What every task provides, so trainer, measures and outputs never branch on a task's name.

A task is its data (all examples, then a seeded split), how the model reads them
(tokens or one real number; which output positions carry the loss) and how
outputs are scored (a loss per example plus named metrics, each a mean over
examples). ``ClassificationTask`` and ``RegressionTask`` supply the scoring; a
concrete task adds its data and its parameter checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from grok import checks
from grok.errors import ConfigError
from grok.task.losses import stablemax_nll

SPLITS = ("random", "sequential")


@dataclass(frozen=True)
class Split:
    """Example indices into the task's full dataset."""

    train: Tensor
    test: Tensor


@dataclass(frozen=True)
class Milestone:
    """When a metric crosses ``threshold`` on the train split the model has memorized;
    on the test split it has generalized (grokked)."""

    metric: str
    higher_is_better: bool
    threshold: float

    def reached(self, value: float) -> bool:
        return value >= self.threshold if self.higher_is_better else value <= self.threshold


class Task(ABC):
    """Base of every task; see the module docstring.

    ``shape_key`` names what must agree for two configurations to train in one
    fused pack (vocabulary, context, output size and positions); seeds, split
    fraction and, for the modular family, the operation may differ.
    """

    name: ClassVar[str]
    input_kind: ClassVar[str] = "tokens"  # or "scalar"
    metric_names: ClassVar[tuple[str, ...]] = ()
    losses: ClassVar[tuple[str, ...]] = ()  # names ``train.loss`` may take; null: the first
    milestone: ClassVar[Milestone]

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self.train_frac = float(cfg.train_frac)
        self.data_seed = int(cfg.data_seed)
        self.split_kind = str(cfg.get("split", "random"))

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
    def position_names(self) -> list[str]:
        """Tick labels for the sequence positions (attention patterns)."""
        return [str(i) for i in range(self.n_ctx)]

    @property
    def read_pos(self) -> slice:
        """Positions whose outputs carry the loss (default: the last one)."""
        return slice(self.n_ctx - 1, self.n_ctx)

    @property
    def operand_positions(self) -> tuple[int, ...]:
        """Input positions that carry the operands (what an MLP reads; default: all)."""
        return tuple(range(self.n_ctx))

    def shape_key(self) -> tuple:
        pos = self.read_pos.indices(self.n_ctx)
        return (type(self).__name__, self.d_vocab, self.d_vocab_out, self.n_ctx, pos)

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        """Problems with ``cfg`` as 'key=value: what is allowed' strings."""
        errors = checks.number(
            "task.train_frac",
            cfg.get("train_frac"),
            gt=0,
            lt=1,
            text="must be a number strictly between 0 and 1",
        )
        errors += checks.integer("task.data_seed", cfg.get("data_seed"), low=0)
        errors += checks.choice("task.split", cfg.get("split"), SPLITS)
        return errors

    # --- data ----------------------------------------------------------------
    @property
    @abstractmethod
    def n_examples(self) -> int:
        """Size of ``dataset()``, known without building it (memory planning)."""

    @property
    def n_train(self) -> int:
        return int(self.n_examples * self.train_frac)

    @abstractmethod
    def dataset(self) -> tuple[Tensor, Tensor]:
        """All examples: inputs [N, ...] and targets [N, len(read_pos)]."""

    def split(self, n_examples: int) -> Split:
        """Seeded random split (``torch.randperm`` under ``data_seed``, as seeds 000 and
        001), or ``split: sequential``: the first examples train (seed 004)."""
        cut = int(n_examples * self.train_frac)
        if cut < 1 or cut >= n_examples:
            raise ConfigError(
                f"task.train_frac={self.train_frac} leaves {cut} of {n_examples} examples "
                "for training; both splits need at least one"
            )
        if self.split_kind == "sequential":
            order = torch.arange(n_examples)
        else:
            order = torch.randperm(
                n_examples, generator=torch.Generator().manual_seed(self.data_seed)
            )
        return Split(train=order[:cut], test=order[cut:])

    def generator(self) -> torch.Generator:
        """The data-generating RNG (tasks that sample their examples)."""
        return torch.Generator().manual_seed(self.data_seed)

    # --- scoring -------------------------------------------------------------
    @abstractmethod
    def loss_terms(
        self, outputs: Tensor, targets: Tensor, loss_dtype: torch.dtype, loss: str | None = None
    ) -> Tensor:
        """Per-example loss [..., n] from outputs [..., n, P, C] and targets [..., n, P];
        ``loss`` is one of ``losses`` (None: the first)."""

    @abstractmethod
    def example_metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Per-example values [..., n] whose means are the metrics ``metric_names``."""

    def finish_metrics(self, means: dict[str, Tensor], target_var: Tensor) -> dict[str, Tensor]:
        """Metrics that are not plain means (R^2) from the means and the targets' variance."""
        return means


class ClassificationTask(Task):
    """Class logits at the read positions; cross-entropy; accuracy per position."""

    metric_names = ("acc",)
    # Nanda et al. / seed 003: memorized at train acc >= 99%, grokked at test acc >= 99%.
    milestone = Milestone("acc", higher_is_better=True, threshold=0.99)
    losses = ("cross_entropy", "stablemax")

    def loss_terms(
        self, outputs: Tensor, targets: Tensor, loss_dtype: torch.dtype, loss: str | None = None
    ) -> Tensor:
        """Cross-entropy in ``loss_dtype``: float64 as in seed 001, because grokked models
        reach losses near 1e-7, below float32 resolution of log-softmax. ``stablemax``:
        the cross-entropy of StableMax instead of softmax (``grok.task.losses``)."""
        if loss == "stablemax":
            return stablemax_nll(outputs.to(loss_dtype), targets).mean(dim=-1)
        logp = outputs.to(loss_dtype).log_softmax(dim=-1)
        nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return nll.mean(dim=-1)

    def example_metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        right = (outputs.argmax(dim=-1) == targets).double()
        return {"acc": right.mean(dim=-1)}


class RegressionTask(Task):
    """One real value per read position (d_vocab_out = 1); mean squared error."""

    metric_names = ("mse", "mae", "r2")
    milestone = Milestone("r2", higher_is_better=True, threshold=0.99)
    losses = ("mse",)

    @property
    def d_vocab_out(self) -> int:
        return 1

    def predictions(self, outputs: Tensor) -> Tensor:
        """Model outputs [..., P, 1] -> predictions [..., P]."""
        return outputs[..., 0]

    def loss_terms(
        self, outputs: Tensor, targets: Tensor, loss_dtype: torch.dtype, loss: str | None = None
    ) -> Tensor:
        err = self.predictions(outputs).to(loss_dtype) - targets.to(loss_dtype)
        return err.pow(2).mean(dim=-1)

    def example_metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        err = self.predictions(outputs).double() - targets.double()
        return {"mse": err.pow(2).mean(dim=-1), "mae": err.abs().mean(dim=-1)}

    def finish_metrics(self, means: dict[str, Tensor], target_var: Tensor) -> dict[str, Tensor]:
        return {**means, "r2": 1 - means["mse"] / target_var}

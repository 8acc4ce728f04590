"""Sine regression (seed 000): from k, predict sin(k x) on a grid of x in [0, 2 pi].

The model reads k through a linear projection in place of the token embedding
(``input_kind = "scalar"``); the learned positional embedding is the x grid, and
each position reads out one value.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.task.base import RegressionTask


class SineTask(RegressionTask):
    name = "sine"
    input_kind = "scalar"

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.n_samples = int(cfg.n_samples)
        self.n_points = int(cfg.n_points)
        self.k_min, self.k_max = float(cfg.k_min), float(cfg.k_max)

    @property
    def d_vocab(self) -> int:
        return 1  # one real input feature

    @property
    def n_examples(self) -> int:
        return self.n_samples

    @property
    def n_ctx(self) -> int:
        return self.n_points

    @property
    def read_pos(self) -> slice:
        return slice(0, self.n_points)

    @classmethod
    def problems(cls, cfg: Any) -> list[str]:
        errors = super().problems(cfg)
        errors += checks.integer("task.n_samples", cfg.get("n_samples"), 2)
        errors += checks.integer("task.n_points", cfg.get("n_points"), 2)
        k_min, k_max = cfg.get("k_min"), cfg.get("k_max")
        if not all(checks.is_number(k, finite=False) for k in (k_min, k_max)):
            errors.append(f"task.k_min={k_min!r}, task.k_max={k_max!r}: must be numbers")
        elif not k_min < k_max:
            errors.append(f"task.k_min={k_min!r}, task.k_max={k_max!r}: need k_min < k_max")
        return errors

    def x_grid(self) -> Tensor:
        return torch.linspace(0, 2 * math.pi, self.n_points)

    def dataset(self) -> tuple[Tensor, Tensor]:
        """k ~ U[k_min, k_max] drawn as seed 000 (torch.rand under data_seed)."""
        k = (self.k_max - self.k_min) * torch.rand(self.n_samples, generator=self.generator())
        k = k + self.k_min
        return k[:, None], torch.sin(k[:, None] * self.x_grid())

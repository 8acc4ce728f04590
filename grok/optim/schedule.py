"""Learning-rate schedules as per-member tensors (a pack's members may differ in every knob)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

SCHEDULES = ("constant", "cosine")
ALL = slice(None)  # every member of the pack


def column(values: Sequence[float], device: torch.device) -> Tensor:
    """A per-member hyperparameter as a float64 [M] tensor."""
    return torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)


class Schedule:
    """lr multiplier per member: linear warm-up, then constant or cosine.

    Warm-up is min(1, done / warmup_steps) as in Nanda et al.'s code (their LambdaLR gives
    the first update lr 0). ``cosine`` then decays to ``min_lr_ratio * lr`` at the last
    step, as CosineAnnealingLR (seed 000). Constant members get exactly the warm-up factor,
    so a constant member of a mixed pack computes bit for bit what it computes alone.
    """

    def __init__(self, members: Sequence[Any], total_steps: int | None, device: torch.device):
        self.warmup = column([m.get("warmup_steps", 0) for m in members], device)
        kinds = [m.get("schedule", "constant") for m in members]
        self.any_cosine = "cosine" in kinds
        self.cosine = torch.tensor([k == "cosine" for k in kinds], device=device)
        self.min_lr_ratio = column([m.get("min_lr_ratio", 0.0) for m in members], device)
        if self.any_cosine and not total_steps:
            raise ValueError("optim.schedule=cosine needs the run's total number of steps")
        self.total_steps = total_steps

    def factor(self, done: Tensor, group: slice = ALL) -> Tensor:
        """Multiplier of the members in ``group`` for the step after ``done`` completed steps
        (a float64 scalar)."""
        warmup = self.warmup[group]
        warm = torch.where(warmup > 0, (done / warmup.clamp(min=1)).clamp(max=1.0), 1.0)
        if not self.any_cosine:
            return warm
        span = (self.total_steps - warmup).clamp(min=1)
        progress = ((done - warmup) / span).clamp(0.0, 1.0)
        cosine = 0.5 * (1 + torch.cos(math.pi * progress))
        floor = self.min_lr_ratio[group]
        decayed = warm * (floor + (1 - floor) * cosine)
        return torch.where(self.cosine[group], decayed, warm)

"""Learning-rate schedules as per-member tensors (a pack's members may differ in every knob)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

SCHEDULES = ("constant", "cosine")
SCHEDULE_UNITS = ("step", "epoch")
ALL = slice(None)  # every member of the pack


def column(values: Sequence[float], device: torch.device) -> Tensor:
    """A per-member hyperparameter as a float64 [M] tensor."""
    return torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)


class Schedule:
    """lr multiplier per member: linear warm-up, then constant or cosine.

    Warm-up is min(1, (t + warmup_offset) / warmup_steps): offset 0 is Nanda et al.'s code
    (their LambdaLR gives the first update lr 0), offset 1 seed 004's ``(epoch + 1) / 5``.
    ``cosine`` then decays from ``cosine_peak * lr`` to ``min_lr_ratio * lr`` at the last
    step, as CosineAnnealingLR (seed 000; seed 004's ``0.65 * (1 + cos)`` is peak 1.3).
    ``schedule_unit: epoch`` counts t, ``warmup_steps`` and the length in epochs, so the lr
    changes once per epoch, as a LambdaLR stepped after each epoch (seed 004).
    Constant members get exactly the warm-up factor, so a constant member of a mixed pack
    computes bit for bit what it computes alone.
    """

    def __init__(
        self,
        members: Sequence[Any],
        total_steps: int | None,
        device: torch.device,
        steps_per_epoch: int = 1,
    ):
        self.warmup = column([m.get("warmup_steps", 0) for m in members], device)
        self.offset = column([m.get("warmup_offset", 0) for m in members], device)
        self.any_offset = bool((self.offset != 0).any())
        kinds = [m.get("schedule", "constant") for m in members]
        self.any_cosine = "cosine" in kinds
        self.cosine = torch.tensor([k == "cosine" for k in kinds], device=device)
        self.min_lr_ratio = column([m.get("min_lr_ratio", 0.0) for m in members], device)
        self.peak = column([m.get("cosine_peak", 1.0) for m in members], device)
        units = [m.get("schedule_unit", "step") for m in members]
        self.any_epoch = "epoch" in units
        self.per_epoch = torch.tensor([u == "epoch" for u in units], device=device)
        if self.any_cosine and not total_steps:
            raise ValueError("optim.schedule=cosine needs the run's total number of steps")
        self.total_steps = total_steps
        self.steps_per_epoch = int(steps_per_epoch)
        epochs = (total_steps or 0) // self.steps_per_epoch
        self.total = torch.where(
            self.per_epoch,
            torch.tensor(float(epochs), dtype=torch.float64, device=device),
            torch.tensor(float(total_steps or 0), dtype=torch.float64, device=device),
        )

    def factor(self, done: Tensor, group: slice = ALL) -> Tensor:
        """Multiplier of the members in ``group`` for the step after ``done`` completed steps
        (a float64 scalar)."""
        warmup = self.warmup[group]
        if self.any_epoch:  # epochs completed before this step
            epochs = torch.div(done, self.steps_per_epoch, rounding_mode="floor")
            done = torch.where(self.per_epoch[group], epochs, done)
        t = done + self.offset[group] if self.any_offset else done
        warm = torch.where(warmup > 0, (t / warmup.clamp(min=1)).clamp(max=1.0), 1.0)
        if not self.any_cosine:
            return warm
        span = (self.total[group] - warmup).clamp(min=1)
        progress = ((done - warmup) / span).clamp(0.0, 1.0)
        cosine = 0.5 * (1 + torch.cos(math.pi * progress))
        floor, peak = self.min_lr_ratio[group], self.peak[group]
        decayed = warm * (floor + (peak - floor) * cosine)
        # With a peak other than 1 the cosine starts after the warm-up, which runs alone
        # (seed 004: 0.2, 0.4, ... 1.0, then 1.3); with peak 1 both forms agree.
        decayed = torch.where((done < warmup) & (peak != 1), warm, decayed)
        return torch.where(self.cosine[group], decayed, warm)

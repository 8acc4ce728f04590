"""The start-up estimate: how long the rest of a run takes at the rate measured so far.

Said once a few seconds in and again at the first log interval, timed from the end of the
first epoch (epoch 0's evaluation and measures, an LLC among them, are start-up costs). A
CPU run that would take hours gets a hint that it is sized for a GPU. Epochs are counted
and timed on the host, so the estimate costs no device sync (on a GPU the host runs ahead
until the launch queue fills, so the early line is optimistic).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

FIRST_AFTER_S = 5.0  # seconds of training before the first, rough line
MIN_EPOCHS = 3  # and at least this many epochs timed
GPU_HINT_S = 3600.0  # a CPU run longer than this is probably meant for a GPU


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 10 else f"{hours:.0f} h"


class Estimate:
    def __init__(self, start: int, epochs: int, device: torch.device, say: Callable[[str], None]):
        self.start, self.epochs, self.device, self.say = start, epochs, device, say
        self.said = 0  # lines said so far (at most 2)
        self.origin: tuple[int, float] | None = None  # (epoch, seconds) after the first epoch

    def update(self, epoch: int, seconds: float, logged: bool) -> None:
        """After ``epoch``, ``seconds`` into this segment; ``logged``: a log interval ended."""
        if self.said >= 2 or epoch <= self.start or epoch >= self.epochs:
            return
        if self.origin is None:  # the rate is timed from here: epoch 0's measures (an LLC
            self.origin = (epoch, seconds)  # can take minutes) and warm-up are not the rate
            return
        done, spent = epoch - self.origin[0], seconds - self.origin[1]
        if self.said == 0 and not logged and (spent < FIRST_AFTER_S or done < MIN_EPOCHS):
            return
        if self.said == 1 and not logged:
            return
        rate = done / max(spent, 1e-9)
        left = (self.epochs - epoch) / rate
        line = (
            f"grok: {self.epochs - epoch:,} epochs to go: ~{duration(left)} on this machine "
            f"at {rate:.3g} epochs/s"
        )
        if self.device.type == "cpu" and left > GPU_HINT_S:
            line += " (sized for a GPU: hardware=gpu, or a cluster preset such as hardware=bouchet)"
        self.say(line)
        self.said = 2 if logged else 1

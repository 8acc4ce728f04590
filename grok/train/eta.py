"""The start-up estimate: how long the rest of a run takes at the rate measured so far.

Said once a few seconds in (the first epochs carry start-up costs, so it is rough) and again
at the first log interval; a CPU run that would take hours gets a hint that it is sized for
a GPU. Epochs are counted and timed on the host, so the estimate costs no device sync (on a
GPU the host runs ahead until the launch queue fills, so the early line is optimistic).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

FIRST_AFTER_S = 5.0  # seconds of training before the first, rough line
GPU_HINT_S = 3600.0  # a CPU run longer than this is probably meant for a GPU


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Estimate:
    def __init__(self, start: int, epochs: int, device: torch.device, say: Callable[[str], None]):
        self.start, self.epochs, self.device, self.say = start, epochs, device, say
        self.said = 0  # lines said so far (at most 2)

    def update(self, epoch: int, seconds: float, logged: bool) -> None:
        """After ``epoch``, ``seconds`` into this segment; ``logged``: a log interval ended."""
        if self.said >= 2 or epoch <= self.start or epoch >= self.epochs:
            return
        if self.said == 0 and not logged and seconds < FIRST_AFTER_S:
            return
        if self.said == 1 and not logged:
            return
        rate = (epoch - self.start) / max(seconds, 1e-9)
        left = (self.epochs - epoch) / rate
        line = (
            f"grok: {self.epochs - epoch:,} epochs to go: ~{duration(left)} on this machine "
            f"at {rate:.3g} epochs/s"
        )
        if self.device.type == "cpu" and left > GPU_HINT_S:
            line += " (sized for a GPU: hardware=gpu, or a cluster preset such as hardware=bouchet)"
        self.say(line)
        self.said = 2 if logged else 1

"""When a run saves a checkpoint (weights + resume state).

``train.checkpoint_schedule=linear`` saves every ``train.checkpoint_every`` epochs. ``log``
adds log-spaced epochs before the first of those (8 per decade from epoch 1: 1, 2, 3, 4, 6, 7,
10, 13, 18, 24, 32, 42, 56, 75, 100, 133, 178 below 200): memorization is over within a
few hundred epochs, so post hoc measures (``grok measure``) need checkpoints there to see it.
The run checkpoints at the end and on a stop signal in both.
"""

from __future__ import annotations

from collections.abc import Callable

SCHEDULES = ("linear", "log")
PER_DECADE = 8


def early_epochs(every: int) -> list[int]:
    """The log schedule's epochs below ``every``."""
    epochs: list[int] = []
    k = 0
    while (epoch := round(10 ** (k / PER_DECADE))) < every:
        if epoch not in epochs:
            epochs.append(epoch)
        k += 1
    return epochs


def checkpoint_at(schedule: str, every: int) -> Callable[[int], bool]:
    """Whether ``epoch`` is a scheduled checkpoint."""
    early = frozenset(early_epochs(every)) if schedule == "log" else frozenset()
    return lambda epoch: epoch % every == 0 or epoch in early

"""Signals as flags the training loop reads between epochs (no work in the handlers)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Signals:
    """What arrived since the loop last looked."""

    stop: int | None = None  # the signal that asks to checkpoint and exit
    checkpoint_requested: bool = False  # SLURM's SIGTERM under submitit: checkpoint, go on
    requeue: Callable[[int, Any], Any] | None = None  # submitit's USR2 handler, to call last


@contextmanager
def stop_on_signals() -> Iterator[Signals]:
    """Alone: SIGTERM / SIGINT -> ``stop`` (checkpoint and exit: Ctrl-C, kill).
    Under submitit (its USR2 handler is installed): USR2 -> stop, then submitit's handler
    requeues the job (``requeue``); SIGTERM -> ``checkpoint_requested`` and keep training,
    since SLURM sends it before a SIGKILL (scontrol requeue, node shutdown) or before USR2
    (preemption). Outside the main thread no handler can be installed: no flag is set."""
    flags = Signals()
    if threading.current_thread() is not threading.main_thread():
        yield flags
        return
    usr2 = signal.getsignal(signal.SIGUSR2)
    under_submitit = callable(usr2)
    stops = [signal.SIGINT] + ([signal.SIGUSR2] if under_submitit else [signal.SIGTERM])
    previous = {s: signal.getsignal(s) for s in [*stops, signal.SIGTERM]}
    flags.requeue = usr2 if under_submitit else None  # type: ignore[assignment]

    def request_stop(signum: int, frame: Any) -> None:
        flags.stop = signum

    def request_checkpoint(signum: int, frame: Any) -> None:
        flags.checkpoint_requested = True

    for s in stops:
        signal.signal(s, request_stop)
    if under_submitit:
        signal.signal(signal.SIGTERM, request_checkpoint)
    try:
        yield flags
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

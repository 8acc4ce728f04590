"""Signals as flags the training loop reads between epochs (no work in the handlers)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_signals(trainer: Any) -> Iterator[None]:
    """Alone: SIGTERM / SIGINT -> ``trainer.stop_signal`` (checkpoint and exit: Ctrl-C, kill).
    Under submitit (its USR2 handler is installed): USR2 -> stop, then submitit's handler
    requeues the job (``trainer._requeue_handler``); SIGTERM -> ``checkpoint_requested`` and
    keep training, since SLURM sends it before a SIGKILL (scontrol requeue, node shutdown) or
    before USR2 (preemption)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    usr2 = signal.getsignal(signal.SIGUSR2)
    under_submitit = callable(usr2)
    stops = [signal.SIGINT] + ([signal.SIGUSR2] if under_submitit else [signal.SIGTERM])
    previous = {s: signal.getsignal(s) for s in [*stops, signal.SIGTERM]}
    trainer._requeue_handler = usr2 if under_submitit else None

    def request_stop(signum: int, frame: Any) -> None:
        trainer.stop_signal = signum

    def request_checkpoint(signum: int, frame: Any) -> None:
        trainer.checkpoint_requested = True

    for s in stops:
        signal.signal(s, request_stop)
    if under_submitit:
        signal.signal(signal.SIGTERM, request_checkpoint)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

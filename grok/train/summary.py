"""What summary.json says about a run: status, milestones, segments, and why it failed."""

from __future__ import annotations

import errno
import shutil
import socket
import time
from pathlib import Path
from typing import Any


def milestones(rows: list[dict[str, Any]], goal: Any) -> dict[str, int | None]:
    """First evaluated epochs where the task's milestone metric (accuracy >= 0.99 for
    classification) is reached on the train split (memorization) and the test split (grok)."""

    def first(split: str) -> int | None:
        key = f"{split}_{goal.metric}"
        return next(
            (r["epoch"] for r in rows if r.get(key) is not None and goal.reached(r[key])), None
        )

    return {"memorization_epoch": first("train"), "grok_epoch": first("test")}


def milestone_spec(goal: Any) -> dict[str, Any]:
    """The rule behind the milestones, stored so reports never have to guess it."""
    return {
        "metric": goal.metric,
        "higher_is_better": goal.higher_is_better,
        "threshold": goal.threshold,
    }


def segment(start_epoch: int, device: str, changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """One training segment (a start or a resume): where, when, and what changed."""
    out: dict[str, Any] = {
        "start_epoch": start_epoch,
        "end_epoch": start_epoch,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "device": device,
    }
    if changes:
        out["changed"] = {k: list(v) for k, v in sorted(changes.items())}
    return out


def failure_kind(exc: BaseException) -> str:
    """Why it failed, for the resume contract: every kind but ``diverged`` (written by the
    trainer, not from an exception) resumes when the run is started again."""
    text = f"{type(exc).__name__}: {exc}".lower()
    if isinstance(exc, MemoryError) or "out of memory" in text:
        return "out_of_memory"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk_full"
    if "unexpected pos" in text or "file write failed" in text:
        return "disk_full"
    return "error"


def failure_reason(exc: BaseException, run_dir: Path) -> str:
    """One line a researcher can act on: out of memory, disk full, or the exception."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return f"out of memory ({text})"
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if full or "unexpected pos" in text or "file write failed" in text:
        try:
            free = shutil.disk_usage(run_dir).free
            return f"disk full? {free / 2**20:.1f} MiB free at {run_dir} ({text})"
        except OSError:
            return f"disk full? ({text})"
    return text

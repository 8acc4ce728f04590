"""The block a run or a sweep ends with: where it went, how it ended, what to type next.

A run used to end on a bare progress bar (and Ctrl-C on exit code 130): nothing said where
the run dir was, whether it grokked, or how to resume. These few lines say it, from the
summary.json files alone.
"""

from __future__ import annotations

import os
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

from grok.store.files import DamagedFile, read_json


def _python() -> str:
    """The interpreter as the user can type it (``.venv/bin/python`` from the repo root)."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return str(exe)


def rerun_command(dir_key: str, path: Path) -> str:
    """The command line that was run, pinned to ``path`` (``hydra.run.dir`` /
    ``hydra.sweep.dir``): run again, it resumes there (``train.resume=auto``) instead of
    starting a new dated dir."""
    argv = [a for a in sys.argv[1:] if not a.startswith(f"{dir_key}=")]
    return shlex.join([_python(), sys.argv[0], *argv, f"{dir_key}={path}"])


def _grok_cli() -> str:
    cli = Path(sys.executable).with_name("grok")
    return str(Path(_python()).with_name("grok")) if cli.exists() else "grok"


def _summary(run_dir: Path) -> dict[str, Any]:
    try:
        return read_json(run_dir / "summary.json")
    except (FileNotFoundError, DamagedFile):
        return {}


def _final(summary: dict[str, Any]) -> str:
    final = summary.get("final") or {}
    metric = (summary.get("milestone") or {}).get("metric", "acc")
    keys = [f"train_{metric}", f"test_{metric}", "train_loss", "test_loss"]
    return "  ".join(f"{k} {final[k]:.4g}" for k in keys if isinstance(final.get(k), int | float))


def _epoch(value: Any) -> str:
    return "-" if value is None else str(value)


def run_block(run_dir: Path) -> str:
    """Status, milestones, final metrics and the next commands of one run."""
    run_dir = Path(os.path.relpath(run_dir)) if Path(run_dir).is_absolute() else Path(run_dir)
    s = _summary(run_dir)
    status = s.get("status", "unknown")
    wall = s.get("wall_seconds")
    took = f" after {wall:.0f} s" if isinstance(wall, int | float) else ""
    lines = [f"grok: run {status}{took}: {run_dir}"]
    lines.append(
        f"  epochs {_epoch(s.get('epochs'))}   memorized at {_epoch(s.get('memorization_epoch'))}"
        f"   grokked at {_epoch(s.get('grok_epoch'))}"
    )
    if _final(s):
        lines.append(f"  final  {_final(s)}")
    if s.get("failure"):
        lines.append(f"  failure: {s['failure']}")
    if status != "done":
        lines.append(f"  resume: {rerun_command('hydra.run.dir', run_dir)}")
    lines.append(f"  report: {_grok_cli()} report {run_dir}")
    return "\n".join(lines)


def sweep_block(sweep_dir: Path, run_dirs: list[Path]) -> str:
    """How many runs ended how, the grok epochs, and the next commands of a sweep."""
    sweep_dir = Path(os.path.relpath(sweep_dir)) if Path(sweep_dir).is_absolute() else sweep_dir
    summaries = [_summary(Path(d)) for d in run_dirs]
    statuses: dict[str, int] = {}
    for s in summaries:
        statuses[s.get("status", "not started")] = (
            statuses.get(s.get("status", "not started"), 0) + 1
        )
    groks = [s["grok_epoch"] for s in summaries if s.get("grok_epoch") is not None]
    counts = ", ".join(f"{n} {status}" for status, n in statuses.items())
    lines = [f"grok: sweep of {len(summaries)} runs: {counts}: {sweep_dir}"]
    median = f", median epoch {statistics.median(groks):g}" if groks else ""
    lines.append(f"  grokked {len(groks)}/{len(summaries)}{median}")
    if set(statuses) - {"done"}:
        lines.append(f"  resume: {rerun_command('hydra.sweep.dir', sweep_dir)}")
    lines.append(f"  table:  {_grok_cli()} ls {sweep_dir}")
    lines.append(f"  report: {_grok_cli()} report {sweep_dir}")
    return "\n".join(lines)

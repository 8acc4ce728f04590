"""The local store: one run dir per run, the source of truth every other sink mirrors.

Layout of a run dir::

    config.yaml          resolved config (Hydra's unresolved copy is in .hydra/)
    metrics.jsonl        one JSON object per evaluated epoch, appended at each flush
    summary.json         status, final metrics, milestone epochs, seeds, versions, device
    checkpoints/
      weights_000100.pt  model state_dict (TransformerLens names) every checkpoint_every
      state_000100.pt    optimizer, RNG, metrics position: what resume needs besides weights
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
_CKPT = re.compile(r"^(weights|state)_(\d+)\.pt$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so a killed job never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("grok", "torch", "transformer-lens", "hydra-core", "omegaconf", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


class RunStore:
    """Reads and writes one run dir."""

    def __init__(self, run_dir: str | os.PathLike):
        self.dir = Path(run_dir)
        self.ckpt_dir = self.dir / CHECKPOINTS

    # --- metrics ---------------------------------------------------------------
    def append_metrics(self, rows: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(row, allow_nan=True) + "\n" for row in rows)
        if lines:
            with open(self.dir / METRICS, "a") as f:
                f.write(lines)

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.dir / METRICS
        if not path.exists():
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate_metrics(self, n_rows: int) -> None:
        """Drop rows written after the checkpoint we resume from."""
        rows = self.read_metrics()[:n_rows]
        atomic_write_bytes(self.dir / METRICS, "".join(json.dumps(r) + "\n" for r in rows).encode())

    # --- summary ---------------------------------------------------------------
    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_bytes(self.dir / SUMMARY, (json.dumps(summary, indent=2) + "\n").encode())

    def read_summary(self) -> dict[str, Any] | None:
        path = self.dir / SUMMARY
        return json.loads(path.read_text()) if path.exists() else None

    # --- checkpoints -------------------------------------------------------------
    def checkpoint_epochs(self, kind: str) -> list[int]:
        if not self.ckpt_dir.is_dir():
            return []
        found = (_CKPT.match(p.name) for p in self.ckpt_dir.iterdir())
        return sorted(int(m.group(2)) for m in found if m and m.group(1) == kind)

    def resumable_epochs(self) -> list[int]:
        """Epochs with both a weights and a state file."""
        return sorted(set(self.checkpoint_epochs("weights")) & set(self.checkpoint_epochs("state")))

    def checkpoint_path(self, kind: str, epoch: int) -> Path:
        return self.ckpt_dir / f"{kind}_{epoch:06d}.pt"

    def save_checkpoint(self, epoch: int, weights: dict, state: dict) -> None:
        atomic_torch_save(
            {"epoch": epoch, "model": weights}, self.checkpoint_path("weights", epoch)
        )
        atomic_torch_save({"epoch": epoch, **state}, self.checkpoint_path("state", epoch))

    def load_checkpoint(self, epoch: int) -> tuple[dict, dict]:
        weights = torch.load(self.checkpoint_path("weights", epoch), weights_only=True)
        state = torch.load(self.checkpoint_path("state", epoch), weights_only=False)
        return weights["model"], state

    def prune(self, keep_states: int | None, keep_weights: int | None) -> None:
        """Keep the newest ``keep_*`` files of each kind (None keeps all)."""
        for kind, keep in (("state", keep_states), ("weights", keep_weights)):
            if keep is None:
                continue
            for epoch in self.checkpoint_epochs(kind)[: -keep or None]:
                self.checkpoint_path(kind, epoch).unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget a previous run in this dir (``train.resume=false``)."""
        for kind in ("state", "weights"):
            for epoch in self.checkpoint_epochs(kind):
                self.checkpoint_path(kind, epoch).unlink()
        for name in (METRICS, SUMMARY):
            (self.dir / name).unlink(missing_ok=True)


def milestones(rows: list[dict[str, Any]], goal: Any) -> dict[str, int | None]:
    """First evaluated epochs where the task's milestone metric (accuracy >= 0.99 for
    classification) is reached on the train split (memorization) and the test split (grok)."""

    def first(split: str) -> int | None:
        key = f"{split}_{goal.metric}"
        return next((r["epoch"] for r in rows if key in r and goal.reached(r[key])), None)

    return {"memorization_epoch": first("train"), "grok_epoch": first("test")}

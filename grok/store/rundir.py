"""The local store: one run dir per run, the source of truth every other sink mirrors.

Layout of a run dir::

    config.yaml          the resolved config the run was trained with (Hydra's unresolved
                         copy is in .hydra/); it describes every row of metrics.jsonl
    metrics.jsonl        one strict-JSON object per evaluated epoch, appended at each flush
    measures_posthoc.jsonl  progress measures recomputed from the checkpoints (``grok measure``)
    summary.json         status, final metrics, milestones, seeds, versions, device, pack
    .grok.lock           held (flock) by the one process training in this dir
    checkpoints/
      weights_000100.pt  model state_dict (TransformerLens names) + what rebuilds the model
      state_000100.pt    optimizer, RNG and metrics position: what resume needs besides weights

Importing this module does not import torch (reports read run dirs without it).
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from grok.store.files import (
    DamagedFile,
    atomic_torch_save,
    atomic_write_bytes,
    jsonl_lines,
    read_json,
    read_jsonl,
    write_json,
)

SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
CONFIG = "config.yaml"
POSTHOC = "measures_posthoc.jsonl"  # grok/posthoc.py
CHECKPOINTS = "checkpoints"
_CKPT = re.compile(r"^(weights|state)_(\d+)\.pt$")
# What may be in a run dir before grok has written its config.yaml: its own locks, and
# what Hydra writes first (.hydra/, the job's log). Anything else is someone else's.
BOOKKEEPING = (".grok.lock", ".grok_measure.lock", ".hydra")
FINISHED = ("done", "interrupted")  # statuses whose summary promises a complete record


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

    # --- config ------------------------------------------------------------------
    def read_config(self) -> dict[str, Any] | None:
        """The resolved config of the run trained here (None for a new dir)."""
        import yaml

        path = self.dir / CONFIG
        if not path.exists():
            return None
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise DamagedFile(f"{path}: not valid YAML ({e})") from None
        if not isinstance(loaded, dict):
            raise DamagedFile(f"{path}: not a mapping")
        return loaded

    def write_config(self, text: str) -> None:
        atomic_write_bytes(self.dir / CONFIG, text.encode())

    # --- metrics -----------------------------------------------------------------
    def append_metrics(self, rows: Iterable[dict[str, Any]]) -> None:
        lines = jsonl_lines(rows)
        if lines:
            with open(self.dir / METRICS, "a") as f:
                f.write(lines)

    def read_metrics(self, warn: bool = True) -> list[dict[str, Any]]:
        return read_jsonl(self.dir / METRICS, warn=warn)

    def truncate_metrics(self, n_rows: int) -> None:
        """Keep the rows written up to the checkpoint we resume from (a torn tail goes too)."""
        rows = self.read_metrics()[:n_rows]
        atomic_write_bytes(self.dir / METRICS, jsonl_lines(rows).encode())

    # --- summary -------------------------------------------------------------------
    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.dir / SUMMARY, summary)

    def read_summary(self) -> dict[str, Any] | None:
        path = self.dir / SUMMARY
        return read_json(path) if path.exists() else None

    # --- checkpoints -----------------------------------------------------------------
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

    def save_checkpoint(
        self, epoch: int, weights: dict, state: dict, describe: dict[str, Any]
    ) -> None:
        """``describe`` (model_args, config) makes the weights file rebuild its own model."""
        atomic_torch_save(
            {"epoch": epoch, "model": weights, **describe}, self.checkpoint_path("weights", epoch)
        )
        atomic_torch_save({"epoch": epoch, **state}, self.checkpoint_path("state", epoch))

    def load_file(self, kind: str, epoch: int) -> dict[str, Any]:
        """A checkpoint file; ``DamagedFile`` naming it when it cannot be read."""
        import torch

        path = self.checkpoint_path(kind, epoch)
        try:
            # state files hold optimizer tensors and RNG states only, but also Python floats
            # and a string, which weights_only=True accepts; both are ours.
            return torch.load(path, weights_only=True, map_location="cpu")
        except Exception as e:  # torch raises RuntimeError, EOFError, pickle errors ...
            raise DamagedFile(f"{path}: cannot be read ({type(e).__name__}: {e})") from None

    def load_checkpoint(self, epoch: int) -> tuple[dict, dict]:
        return self.load_file("weights", epoch)["model"], self.load_file("state", epoch)

    def prune(self, keep_states: int | None, keep_weights: int | None) -> None:
        """Keep the newest ``keep_*`` files of each kind (None keeps all)."""
        for kind, keep in (("state", keep_states), ("weights", keep_weights)):
            if keep is None:
                continue
            for epoch in self.checkpoint_epochs(kind)[: -keep or None]:
                self.checkpoint_path(kind, epoch).unlink(missing_ok=True)

    def foreign_entries(self) -> list[str]:
        """Names in a dir without grok's config.yaml that neither grok nor Hydra wrote."""
        if not self.dir.is_dir() or (self.dir / CONFIG).exists():
            return []
        return sorted(
            p.name + ("/" if p.is_dir() else "")
            for p in self.dir.iterdir()
            if p.name not in BOOKKEEPING and not (p.suffix == ".log" and p.is_file())
        )

    def record_problem(self, summary: dict[str, Any] | None) -> str | None:
        """Why a finished run's record is incomplete (None: it is whole): a summary that says
        ``done`` promises config.yaml and the metrics rows up to its last epoch."""
        if not summary or summary.get("status") not in FINISHED:
            return None
        for name in (CONFIG, METRICS):
            if not (self.dir / name).is_file():
                return f"{self.dir / name} is missing (summary.json says {summary['status']})"
        last = _last_epoch(self.dir / METRICS)
        epochs = summary.get("epochs")
        if summary["status"] == "done" and isinstance(epochs, int) and last != epochs:
            return (
                f"{self.dir / METRICS} ends at epoch {last}, but summary.json says the run "
                f"trained {epochs} epochs"
            )
        return None

    def remove_stale_temps(self) -> None:
        """Temp files (``.name.xxxx``, from ``atomic_*``) a killed writer left. Only the
        lock holder writes here, so any found when it starts are stale."""
        for folder in (self.dir, self.ckpt_dir):
            if folder.is_dir():
                for p in folder.glob(".*.*"):
                    if p.is_file() and p.name not in BOOKKEEPING and _is_temp(p.name):
                        p.unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget a previous run in this dir (``train.resume=false``, or a start that never
        reached its first checkpoint)."""
        for kind in ("state", "weights"):
            for epoch in self.checkpoint_epochs(kind):
                self.checkpoint_path(kind, epoch).unlink()
        for name in (METRICS, SUMMARY, POSTHOC):  # post hoc rows describe the old checkpoints
            (self.dir / name).unlink(missing_ok=True)


def _is_temp(name: str) -> bool:
    """``.summary.json.k3j_x9`` -> True: the prefix ``atomic_*`` gives ``mkstemp``."""
    targets = (SUMMARY, METRICS, CONFIG, POSTHOC, "weights_", "state_")
    return name.startswith(".") and any(name[1:].startswith(t) for t in targets)


def _last_epoch(path: Path) -> int | None:
    """The epoch of a JSON-lines file's last complete row, reading only its tail."""
    import json

    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65536))
        lines = f.read().split(b"\n")
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("epoch"), int):
            return row["epoch"]
    return None


__all__ = [
    "CHECKPOINTS",
    "CONFIG",
    "FINISHED",
    "METRICS",
    "POSTHOC",
    "SUMMARY",
    "DamagedFile",
    "RunStore",
    "versions",
]

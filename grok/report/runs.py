"""Find and read run dirs from the local store alone (no W&B, no torch needed).

A run dir is any directory holding ``summary.json`` or ``metrics.jsonl``; a sweep
dir is one holding several. Reading is cheap (JSON and YAML files only) so a
1,000-run sweep loads in seconds; checkpoints are only opened for the figures of a
single run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

STATUS = {"done": "done", "running": "running", "failed": "failed", "interrupted": "preempted"}
IGNORED_OVERRIDES = ("hydra.", "experiment", "hardware", "logger", "train.progress", "measures")


@dataclass
class Run:
    dir: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    overrides: dict[str, str]
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def status(self) -> str:
        return STATUS.get(self.summary.get("status", "running"), self.summary.get("status", "?"))

    @property
    def rows(self) -> list[dict[str, Any]]:
        """metrics.jsonl (read on first use): what a run in progress has written so far."""
        if self._rows is None:
            path = self.dir / "metrics.jsonl"
            self._rows = []
            if path.exists():
                with open(path) as f:
                    self._rows = [json.loads(line) for line in f if line.strip()]
        return self._rows

    def value(self, key: str) -> Any:
        """A config value by dotted key (``optim.wd``), or a summary field."""
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return self.summary.get(key)
            node = node[part]
        return node

    @property
    def milestone_metric(self) -> str:
        keys = self.rows[-1].keys() if self.rows else ()
        for metric in ("acc", "r2", "mae"):
            if f"test_{metric}" in keys:
                return metric
        return "acc"


def is_run_dir(path: Path) -> bool:
    return (path / "summary.json").exists() or (path / "metrics.jsonl").exists()


def load_run(path: Path) -> Run:
    path = Path(path)
    summary = (
        json.loads((path / "summary.json").read_text()) if (path / "summary.json").exists() else {}
    )
    config = {}
    if (path / "config.yaml").exists():
        config = yaml.load((path / "config.yaml").read_text(), Loader=Loader) or {}
    overrides: dict[str, str] = {}
    hydra_overrides = path / ".hydra" / "overrides.yaml"
    if hydra_overrides.exists():
        for item in yaml.load(hydra_overrides.read_text(), Loader=Loader) or []:
            key, _, value = str(item).lstrip("+~").partition("=")
            if not key.startswith(IGNORED_OVERRIDES):
                overrides[key] = value
    return Run(path, summary, config, overrides)


def find_runs(root: Path) -> list[Run]:
    """Every run dir at or below ``root``, in a stable order (Hydra's job number first)."""
    root = Path(root)
    if is_run_dir(root):
        return [load_run(root)]
    dirs = {p.parent for p in root.rglob("summary.json")} | {
        p.parent for p in root.rglob("metrics.jsonl")
    }

    def order(p: Path) -> tuple:
        head = p.name.split("_", 1)[0]
        return (str(p.parent), int(head) if head.isdigit() else 1 << 30, p.name)

    return [load_run(d) for d in sorted(dirs, key=order)]


def swept_keys(runs: list[Run]) -> list[str]:
    """Override keys whose values differ between the runs, in command-line order."""
    keys: list[str] = []
    for run in runs:
        keys += [k for k in run.overrides if k not in keys]
    return [k for k in keys if len({run.overrides.get(k) for run in runs}) > 1]


def as_number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value

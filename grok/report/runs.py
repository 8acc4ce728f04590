"""Find and read run dirs from the local store alone (no W&B, no torch needed).

A run dir is any directory holding ``summary.json`` or ``metrics.jsonl``; a sweep
dir is one holding several. Reading is cheap (JSON and YAML files only) so a
1,000-run sweep loads in seconds; checkpoints are only opened for the figures of a
single run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from grok import keys as config_keys
from grok.store.files import DamagedFile, read_json, read_jsonl
from grok.store.lock import describe, holder, last_holder
from grok.store.rundir import POSTHOC, RunStore

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

# summary.json's words, and one of the readers' own: ``damaged`` (a file cannot be read, or a
# finished run's record is incomplete). A ``running`` summary no live process holds (kill -9,
# a lost node) reads as ``interrupted``, as a Ctrl-C or a preemption writes it.
STATUSES = ("done", "running", "failed", "interrupted", "damaged")


@dataclass
class Run:
    dir: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    damage: str | None = None  # why part of this run dir could not be read
    typed: list[str] = field(default_factory=list)  # keys of its command-line overrides
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def label(self) -> str:
        """How tables name the run (its dir name; a relative path when names repeat)."""
        return self.__dict__.get("_label") or self.dir.name

    @label.setter
    def label(self, value: str) -> None:
        self.__dict__["_label"] = value

    @property
    def identity(self) -> str:
        """What the run is, for figure titles: the task (and p), the method, and the values
        of the identity keys its command line set ("modsub p=47, model.seed=0, optim.wd=1.0");
        the dir name (a clock time) when the config is missing."""
        task = self.flat.get("task.name")
        if task is None:
            return self.name
        head = f"{task} p={self.flat['task.p']}" if "task.p" in self.flat else str(task)
        method = self.flat.get("method")
        parts = [head] + ([str(method)] if method not in (None, "baseline") else [])
        parts += [f"experiment={e}" for e in _typed_values(self.dir, "experiment")]
        shown = {"task.name", "task.p", "task.op", "method"}
        typed = [k for k in dict.fromkeys(self.typed) if k in self.flat and k not in shown]
        parts += [f"{k}={self.flat[k]}" for k in typed if _is_identity(k)]
        return ", ".join(parts)

    @property
    def status(self) -> str:
        if self.damage:
            return "damaged"
        raw = self.summary.get("status", "running")
        return "interrupted" if raw == "running" and self.stale else raw

    @cached_property
    def stale(self) -> str | None:
        """Why a run whose summary says ``running`` is not (None: a process holds it)."""
        if self.summary.get("status", "running") != "running" or holder(self.dir) is not None:
            return None
        last = last_holder(self.dir)
        who = f" (last held by {describe(last)})" if last else ""
        return (
            f"{self.dir}: summary.json says running, but no grok process holds the run{who}: "
            "it was killed or its machine went down; run the same command again to resume"
        )

    @property
    def rows(self) -> list[dict[str, Any]]:
        """metrics.jsonl (read on first use): what a run in progress has written so far. A
        torn last line is dropped with a warning; other damage marks the run damaged."""
        if self._rows is None:
            try:
                self._rows = read_jsonl(self.dir / "metrics.jsonl")
            except DamagedFile as e:
                self.damage = self.damage or str(e)
                self._rows = []
        return self._rows

    @cached_property
    def posthoc(self) -> list[dict[str, Any]]:
        """measures_posthoc.jsonl (``grok measure``), [] when absent; like ``rows``, a torn
        last line is dropped and other damage marks the run damaged."""
        try:
            return read_jsonl(self.dir / POSTHOC)
        except DamagedFile as e:
            self.damage = self.damage or str(e)
            return []

    @cached_property
    def flat(self) -> dict[str, Any]:
        return dict(config_keys.flatten(self.config))

    def value(self, key: str) -> Any:
        """A resolved config value by dotted key (``optim.wd``), or a summary field."""
        return self.flat[key] if key in self.flat else self.summary.get(key)

    @property
    def milestone_metric(self) -> str:
        """The task's milestone metric as the run recorded it (summary.json ``milestone``)."""
        recorded = (self.summary.get("milestone") or {}).get("metric")
        if recorded:
            return recorded
        keys = self.rows[-1].keys() if self.rows else ()  # runs written before it was recorded
        return next((m for m in ("acc", "mae", "r2") if f"test_{m}" in keys), "acc")


def is_run_dir(path: Path) -> bool:
    return (path / "summary.json").exists() or (path / "metrics.jsonl").exists()


def load_run(path: Path) -> Run:
    """A run dir's summary and config; a damaged file marks the run instead of raising."""
    path = Path(path)
    damage = None
    summary: dict[str, Any] = {}
    try:
        if (path / "summary.json").exists():
            summary = read_json(path / "summary.json")
    except DamagedFile as e:
        damage = str(e)
    config: dict[str, Any] = {}
    if (path / "config.yaml").exists():
        try:
            config = yaml.load((path / "config.yaml").read_text(), Loader=Loader) or {}
        except yaml.YAMLError as e:
            damage = damage or f"{path / 'config.yaml'}: not valid YAML ({e})"
    damage = damage or RunStore(path).record_problem(summary)
    return Run(path, summary, config, damage, _typed_keys(path))


def _typed_keys(path: Path) -> list[str]:
    """The keys of the run's overrides, in the order they were typed (for column order)."""
    overrides = path / ".hydra" / "overrides.yaml"
    if not overrides.exists():
        return []
    try:
        items = yaml.load(overrides.read_text(), Loader=Loader) or []
    except yaml.YAMLError:
        return []
    return [str(item).lstrip("+~").partition("=")[0] for item in items]


def _typed_values(path: Path, key: str) -> list[str]:
    """The values ``key`` was given on the run's command line (a preset: ``experiment``)."""
    overrides = path / ".hydra" / "overrides.yaml"
    try:
        items = yaml.load(overrides.read_text(), Loader=Loader) or [] if overrides.exists() else []
    except yaml.YAMLError:
        return []
    return [str(i).partition("=")[2] for i in items if str(i).lstrip("+").startswith(f"{key}=")]


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
    """Identity config keys (grok/keys.py: MEMBER or PACK) whose resolved values differ
    between the runs, in the order they were typed, then the table's order. Keys that are
    not part of a run's identity (logging, hardware, progress) never count; a key set
    through an interpolation or a preset counts like one typed on the command line."""
    seen: dict[str, set[str]] = {}
    for run in runs:
        for key, value in run.flat.items():
            seen.setdefault(key, set()).add(repr(value))
    present = [k for k, values in seen.items() if len(values) > 1 or _missing_somewhere(k, runs)]
    identity = [k for k in present if _is_identity(k)]
    typed: dict[str, int] = {}
    for run in runs:
        for key in run.typed:
            typed.setdefault(key, len(typed))
    order = {k: i for i, k in enumerate(config_keys.KEYS)}
    return sorted(identity, key=lambda k: (typed.get(k, len(typed)), order.get(k, len(order))))


def independent_keys(runs: list[Run], keys: list[str]) -> list[str]:
    """``keys`` without those whose value follows from one kept before them: a preset or
    a ``method`` choice sets several keys at once (``method=muon`` sets ``optim.name``,
    ``optim.muon.*``), an interpolation derives one key from another (``task.name`` from
    ``task.op``). The choice tells the runs apart; the keys it sets only repeat it."""
    kept: list[str] = []
    for key in keys:
        if not any(_determines(runs, earlier, key) for earlier in kept):
            kept.append(key)
    return kept


def _determines(runs: list[Run], key: str, other: str) -> bool:
    """Whether runs that agree on ``key`` always agree on ``other``."""
    seen: dict[str, str] = {}
    for run in runs:
        value, follows = repr(run.value(key)), repr(run.value(other))
        if seen.setdefault(value, follows) != follows:
            return False
    return True


def _missing_somewhere(key: str, runs: list[Run]) -> bool:
    return any(key not in run.flat for run in runs)


def _is_identity(key: str) -> bool:
    try:
        return config_keys.scope(key).identity
    except config_keys.UnknownKey:
        return True  # an unknown key still tells runs apart


def column(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of ``key`` in metrics-like rows, where it is a finite number."""
    pts = [(r["epoch"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
    pts = [(e, v) for e, v in pts if math.isfinite(v)]
    return [e for e, _ in pts], [v for _, v in pts]


def as_number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value

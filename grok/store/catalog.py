"""The run catalog: find and read run dirs from the local store alone (no W&B, no torch).

A run dir is any directory holding ``summary.json`` or ``metrics.jsonl``; a sweep
dir is one holding several. Reading is cheap (JSON and YAML files only) so a
1,000-run sweep loads in seconds; checkpoints are only opened for the figures of a
single run. ``Run`` is also the notebook object (``grok.load_run``): the metrics as a
DataFrame, a checkpoint's TransformerLens-compatible model, the task and this run's split;
those open torch and pandas only when asked.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from grok import keys as config_keys
from grok.store.files import DamagedFile, read_json, read_jsonl
from grok.store.load import load_checkpoint
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


@dataclass(frozen=True)
class Split:
    """One split of a run's own data, in its order: inputs x and targets y."""

    x: Any
    y: Any


@dataclass
class Run:
    """One run dir: what its files say, read lazily; a damaged file marks it ``damaged``."""

    dir: Path
    summary: dict[str, Any]
    raw_config: dict[str, Any]  # config.yaml as plain data (cheap: reports read thousands)
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
        of the identity keys its command line set ("modsub p=47, model.seed=0, optim.wd=1.0"),
        and the run it started from (``from quick@980``); the dir name (a clock time) when
        the config is missing."""
        task = self.flat.get("task.name")
        if task is None:
            return self.name
        head = f"{task} p={self.flat['task.p']}" if "task.p" in self.flat else str(task)
        method = self.flat.get("method")
        parts = [head] + ([str(method)] if method not in (None, "baseline") else [])
        parts += [f"experiment={e}" for e in _typed_values(self.dir, "experiment")]
        shown = {"task.name", "task.p", "task.op", "method", "train.init_from"}
        typed = [k for k in dict.fromkeys(self.typed) if k in self.flat and k not in shown]
        parts += [f"{k}={self.flat[k]}" for k in typed if is_identity(k)]
        if self.source:  # the checkpoint it started from, by its dir name (the path is long)
            parts.append(f"from {self.source.rpartition('/')[2]}")
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
        return dict(config_keys.flatten(self.raw_config))

    def value(self, key: str) -> Any:
        """A resolved config value by dotted key (``optim.wd``), or a summary field."""
        return self.flat[key] if key in self.flat else self.summary.get(key)

    @property
    def source(self) -> str | None:
        """``train.init_from``'s checkpoint as ``PATH@EPOCH`` (config.yaml's record of it)."""
        record = self.summary.get("init_from") or self.raw_config.get("init_source")
        if not isinstance(record, dict) or "path" not in record:
            return None
        return f"{record['path']}@{record.get('epoch')}"

    @property
    def milestone_metric(self) -> str:
        """The task's milestone metric as the run recorded it (summary.json ``milestone``)."""
        recorded = (self.summary.get("milestone") or {}).get("metric")
        if recorded:
            return recorded
        keys = self.rows[-1].keys() if self.rows else ()  # runs written before it was recorded
        return next((m for m in ("acc", "mae", "r2") if f"test_{m}" in keys), "acc")

    # --- the notebook view (grok.load_run) ---------------------------------------------
    def __repr__(self) -> str:
        epochs = self.summary.get("epochs")
        return f"Run({str(self.dir)!r}, status={self.status!r}, epochs={epochs})"

    @property
    def path(self) -> Path:
        """The run dir (the notebook's name for ``dir``)."""
        return self.dir

    @cached_property
    def config(self) -> Any:
        """The resolved config it was trained with (an OmegaConf DictConfig)."""
        return OmegaConf.create(self.raw_config)

    @property
    def wandb_id(self) -> str | None:
        path = self.dir / "wandb_id"
        return path.read_text().strip() if path.exists() else None

    @cached_property
    def metrics(self) -> Any:
        """One row per evaluation, ``epoch`` first; progress measures are columns (NaN on
        epochs they were not measured); list-valued measures stay lists."""
        # deferred: pandas, only for notebooks
        import pandas as pd

        rows = self.rows
        if self.damage:
            warnings.warn(f"{self.damage}; reading what is there", stacklevel=2)
        frame = pd.DataFrame(rows)
        if "epoch" in frame:
            frame = frame.set_index("epoch", drop=False).rename_axis(None)
        return frame

    @property
    def epochs(self) -> list[int]:
        """Epochs with saved weights (what ``model(epoch)`` can load)."""
        return RunStore(self.dir).checkpoint_epochs("weights")

    def model(self, epoch: int | None = None, device: str = "cpu") -> Any:
        """The TransformerLens-compatible model with that checkpoint's weights (newest by
        default), in eval mode on ``device``."""
        return load_checkpoint(self.dir, epoch, device=device).model

    @cached_property
    def task(self) -> Any:
        """The run's task: ``task.dataset()`` gives every example, ``run.train`` and
        ``run.test`` this run's split of them."""
        # deferred: torch, only when a notebook asks for the task
        from grok.task import build_task

        return build_task(self.config.task)

    @cached_property
    def _split(self) -> tuple[Split, Split]:
        x, y = self.task.dataset()
        split = self.task.split(len(x))
        return Split(x[split.train], y[split.train]), Split(x[split.test], y[split.test])

    @property
    def train(self) -> Split:
        return self._split[0]

    @property
    def test(self) -> Split:
        return self._split[1]


def is_run_dir(path: Path) -> bool:
    return (path / "summary.json").exists() or (path / "metrics.jsonl").exists()


def load_run(path: str | Path, warn: bool = True) -> Run:
    """A run dir as a ``Run``; a damaged file marks the run instead of raising (``warn``:
    say so, and say when a run that claims to be running is not)."""
    path = Path(path)
    if not is_run_dir(path):
        raise FileNotFoundError(f"{path} is not a run dir (no summary.json or metrics.jsonl)")
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
    run = Run(path, summary, config, damage, _typed_keys(path))
    if warn and run.damage:
        warnings.warn(f"{run.damage}; reading what is there", stacklevel=2)
    elif warn and run.stale:
        warnings.warn(run.stale, stacklevel=2)
    return run


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
        return [load_run(root, warn=False)]
    dirs = {p.parent for p in root.rglob("summary.json")} | {
        p.parent for p in root.rglob("metrics.jsonl")
    }

    def order(p: Path) -> tuple:
        head = p.name.split("_", 1)[0]
        return (str(p.parent), int(head) if head.isdigit() else 1 << 30, p.name)

    return [load_run(d, warn=False) for d in sorted(dirs, key=order)]


def is_identity(key: str) -> bool:
    try:
        return config_keys.scope(key).identity
    except config_keys.UnknownKey:
        return True  # an unknown key still tells runs apart

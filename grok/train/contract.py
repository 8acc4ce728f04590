"""Resume is a contract: a run dir's config.yaml describes every row of its metrics.jsonl.

``plan_run`` reads a run dir (it writes nothing) and decides what a new start may do there:

- a new dir, or ``train.resume=false``: train from epoch 0 (the latter deletes the old run);
- a run trained with the same config: continue from its newest checkpoint; a finished run
  is left as it is (its summary included);
- a run trained with a config that differs in an identity key (``grok.keys``: MEMBER or
  PACK scope) is refused, naming every differing key and the two ways out. RUNTIME and
  FREE keys may change (device, threads, logging, progress ...);
- ``train.epochs`` may be raised (a finished run then continues from its last checkpoint,
  which is how researchers watch a long clean-up phase) unless ``optim.schedule=cosine``,
  whose learning rate at every step depends on it; it may never drop below the epochs
  already trained;
- ``train.stop_after_grok`` likewise: the run ends at min(train.epochs, grok epoch + N)
  (``grok.train.stopping``), so raising N or setting it to null continues a stopped run
  exactly; an end before the epochs already trained is refused. A stopped run is a prefix
  of the run without the stop (the schedule still counts train.epochs), so even a cosine
  schedule may change N;
- a dir holding files grok did not write (no config.yaml of grok's) is refused, naming
  them: grok never overwrites what it did not make;
- a run that failed for a reason outside it (disk full, out of memory, a crash) resumes
  from its newest checkpoint; one that diverged stays failed (its config is the cause);
- a finished run whose record is incomplete (``RunStore.record_problem``), or whose
  metrics.jsonl is damaged before its last line, is refused, naming the file;
- ``train.init_from`` is read only by a fresh start (``grok.train.init_from.locate``); a
  run that resumes or is finished keeps the source record its config.yaml holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grok import keys
from grok.errors import ConfigError
from grok.store.files import DamagedFile, read_jsonl
from grok.store.rundir import CONFIG, METRICS, RunStore
from grok.task import task_class
from grok.train import init_from
from grok.train.stopping import end_epoch
from grok.train.summary import milestones

EPOCHS = "train.epochs"
STOP = "train.stop_after_grok"
ABSENT = "(absent)"


@dataclass
class RunPlan:
    """What training does in one run dir."""

    kind: str  # "fresh" | "resume" | "finished"
    epoch: int = 0  # newest checkpoint to resume from
    restart: bool = False  # delete what an earlier run left (resume=false, or no checkpoint)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # accepted differences
    summary: dict[str, Any] | None = None  # the finished run's summary
    source: init_from.Source | None = None  # a fresh start's train.init_from, checked
    init: dict[str, Any] | None = None  # its record (config.yaml's init_source block)


class ResumeRefused(ConfigError):
    """Starting here would make config.yaml lie about rows already written."""


def identity_differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Identity keys whose values differ (absent on one side counts), in sorted order."""
    out = {}
    for path in sorted(set(old) | set(new)):
        try:
            if not keys.scope(path).identity:
                continue
        except keys.UnknownKey:
            pass  # an unknown key in either config is a difference worth naming
        a, b = old.get(path, ABSENT), new.get(path, ABSENT)
        if a != b:
            out[path] = (a, b)
    return out


def _ways_out(run_dir: Path) -> str:
    return (
        f"either train in a new run dir (hydra.run.dir=<new dir>), or start {run_dir} over "
        "with train.resume=false (deletes its checkpoints and metrics)"
    )


def plan_run(cfg: Any, run_dir: Path) -> RunPlan:
    """Decide, before anything is written, what starting ``cfg`` in ``run_dir`` does."""
    run_dir = Path(run_dir)
    new = keys.flat_config(cfg)
    plan = _plan(new, run_dir)
    if new.get(init_from.INIT_FROM) is None:
        return plan
    if plan.kind == "fresh":
        plan.source = init_from.locate(new, run_dir)
        plan.init = plan.source.record()
    else:  # resumes from its own checkpoints: the record is the one it started with
        plan.init = (RunStore(run_dir).read_config() or {}).get(init_from.RECORD)
    return plan


def _plan(new: dict[str, Any], run_dir: Path) -> RunPlan:
    store = RunStore(run_dir)
    mode = new.get("train.resume", "auto")
    foreign = store.foreign_entries()
    try:
        old_cfg = store.read_config()
    except DamagedFile as e:
        if mode is False or mode == "false":
            return RunPlan("fresh", restart=True)
        raise ResumeRefused(f"cannot resume {run_dir}: {e}; {_ways_out(run_dir)}") from None
    if old_cfg is not None and not _is_grok_config(old_cfg):
        foreign = [CONFIG]
    if foreign:
        more = f" and {len(foreign) - 8} more" if len(foreign) > 8 else ""
        shown = ", ".join(foreign[:8]) + more
        raise ResumeRefused(
            f"{run_dir} holds files grok did not write ({shown}); grok trains in an empty dir "
            "or in one of its own run dirs and never overwrites what it did not make: use "
            "another run dir (hydra.run.dir=<new dir>), or move those files away"
        )
    if mode is False or mode == "false":
        return RunPlan("fresh", restart=True)
    checkpoints = store.resumable_epochs()
    if old_cfg is None:
        if checkpoints:
            raise ResumeRefused(
                f"{run_dir} holds checkpoints but no config.yaml, so what they were trained "
                f"with is unknown; {_ways_out(run_dir)}"
            )
        if mode is True or mode == "true":
            raise ResumeRefused(f"train.resume=true but {run_dir} holds no run to resume")
        return RunPlan("fresh")
    old = keys.flat_config(old_cfg)
    diffs = identity_differences(old, new)
    epochs_change = diffs.pop(EPOCHS, None)
    stop_change = diffs.pop(STOP, None)
    if diffs:
        lines = [f"  {k}: {_show(a)} (run dir) -> {_show(b)} (now)" for k, (a, b) in diffs.items()]
        raise ResumeRefused(
            f"cannot resume {run_dir}: it was trained with a different config:\n"
            + "\n".join(lines)
            + f"\n{_ways_out(run_dir)}"
        )
    summary = _read_summary(store)
    problem = store.record_problem(summary) or _metrics_problem(store)
    if problem:
        raise ResumeRefused(f"cannot resume {run_dir}: {problem}; {_ways_out(run_dir)}")
    trained = max(checkpoints[-1] if checkpoints else 0, int((summary or {}).get("epochs") or 0))
    target = _end_epoch(new, store)
    if (epochs_change or stop_change) is not None and target < trained:
        raise ResumeRefused(
            f"cannot resume {run_dir} with train.epochs={new[EPOCHS]}, "
            f"{STOP}={new.get(STOP)}: it would end at epoch {target} but it already trained "
            f"{trained} epochs, and a run dir never loses data; {_ways_out(run_dir)}"
        )
    if epochs_change is not None and new.get("optim.schedule") == "cosine":
        raise ResumeRefused(
            f"cannot change train.epochs of {run_dir} ({epochs_change[0]} -> {new[EPOCHS]}): "
            f"optim.schedule=cosine sets every step's learning rate from it; "
            f"{_ways_out(run_dir)}"
        )
    changes = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
    status = (summary or {}).get("status")
    if status == "failed" and summary is not None and diverged(summary):
        if (epochs_change or stop_change) is not None:
            raise ResumeRefused(
                f"cannot continue {run_dir}: it failed ({summary.get('failure')}); "
                f"{_ways_out(run_dir)}"
            )
        return RunPlan("finished", summary=summary)
    if status == "done" and summary is not None and int(summary.get("epochs", -1)) == target:
        return RunPlan("finished", summary=summary)
    usable = [e for e in checkpoints if e <= target]
    if not usable:
        if mode is True or mode == "true":
            raise ResumeRefused(f"train.resume=true but {run_dir} has no checkpoint to resume")
        return RunPlan("fresh", restart=True, changes=changes)
    return RunPlan("resume", epoch=usable[-1], changes=changes)


def diverged(summary: dict[str, Any]) -> bool:
    """A numerical failure: the config is its cause, so rerunning it gives the same. Other
    failures (disk full, out of memory, a crash, no readable checkpoint) resume."""
    kind = summary.get("failure_kind")
    return kind == "diverged" if kind else str(summary.get("failure", "")).startswith("diverged")


def _is_grok_config(cfg: dict[str, Any]) -> bool:
    return all(isinstance(cfg.get(k), dict) for k in ("task", "model", "train"))


def _metrics_problem(store: RunStore) -> str | None:
    """A damaged line before the last one (a torn last line is fine: resume cuts it)."""
    try:
        read_jsonl(store.dir / METRICS, warn=False)
    except DamagedFile as e:
        return f"{e}; a row before the last one is damaged, so the record cannot be trusted"
    return None


def _end_epoch(new: dict[str, Any], store: RunStore) -> int:
    """The epoch ``new`` ends this run at: train.epochs, or its grok epoch (in the rows kept
    so far) + train.stop_after_grok when that comes first."""
    epochs, after = int(new[EPOCHS]), new.get(STOP)
    if after is None:
        return epochs
    goal = task_class({"name": new.get("task.name")}).milestone
    try:
        grok = milestones(store.read_metrics(warn=False), goal)["grok_epoch"]
    except DamagedFile:
        grok = None  # the trainer names the damage, and finds the grok epoch again

    return end_epoch(grok, after, epochs)


def _read_summary(store: RunStore) -> dict[str, Any] | None:
    try:
        return store.read_summary()
    except DamagedFile:
        return None  # rewritten at the end of this segment


def _show(value: Any) -> str:
    return ABSENT if value is ABSENT else repr(value)

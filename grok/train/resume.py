"""Checkpoints, resume and summaries of a pack: every exit path leaves a true record.

- ``restore`` follows the members' ``RunPlan`` (grok.store.contract): start over, or resume
  from the newest checkpoint every member can read (a damaged newest file is named and an
  older one used; the metrics rows are cut back to that checkpoint).
- ``save`` checkpoints each member that is still healthy (a diverged member keeps its
  last finite checkpoint).
- ``finalize`` writes the final summary: ``done``, ``failed`` (diverged), ``interrupted``.
- ``record_crash`` marks every member ``failed`` with the reason (out of memory, disk full,
  the exception) before the exception propagates.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any

import torch

from grok import hardware
from grok.errors import ConfigError
from grok.measures.phases import phases
from grok.store import SUMMARY, DamagedFile, versions
from grok.store.contract import ResumeRefused, RunPlan, plan_run
from grok.store.files import overwrite_json
from grok.train.summary import failure_kind, failure_reason, milestone_spec, milestones, segment

if TYPE_CHECKING:
    from grok.train.trainer import PackTrainer


def _plans(trainer: PackTrainer) -> list[RunPlan]:
    plans = [m.plan or plan_run(m.cfg, m.run_dir) for m in trainer.members]
    kinds = {(p.kind, p.epoch) for p in plans}
    if len(kinds) != 1:
        where = ", ".join(
            f"{m.run_dir}: {p.kind} at {p.epoch}"
            for m, p in zip(trainer.members, plans, strict=True)
        )
        raise ConfigError(f"a pack's members must start from the same epoch ({where})")
    return plans


def restore(trainer: PackTrainer) -> int:
    """Load the members' newest common readable checkpoint; the epoch training starts at."""
    plans = _plans(trainer)
    trainer.plans = plans
    if plans[0].kind == "fresh":
        for plan, store in zip(plans, trainer.stores, strict=True):
            if plan.restart:
                store.clear()
        return 0
    common = set.intersection(*(set(s.resumable_epochs()) for s in trainer.stores))
    for epoch in sorted((e for e in common if e <= plans[0].epoch), reverse=True):
        try:
            saved = [store.load_checkpoint(epoch) for store in trainer.stores]
        except DamagedFile as e:
            warnings.warn(f"{e}; trying an older checkpoint", stacklevel=2)
            continue
        _load(trainer, saved)
        trainer.epoch = epoch
        return epoch
    dirs = ", ".join(str(s.dir) for s in trainer.stores)
    raise NoReadableCheckpoint(
        f"no readable checkpoint to resume in {dirs}; start over with train.resume=false "
        "(deletes what is there) or use a new run dir"
    )


class NoReadableCheckpoint(ResumeRefused):
    """Every checkpoint the plan could resume from is damaged (a refusal: exit 2)."""


@torch.no_grad()
def _load(trainer: PackTrainer, saved: list[tuple[dict, dict]]) -> None:
    for i, (store, (weights, state)) in enumerate(zip(trainer.stores, saved, strict=True)):
        for name, p in trainer.params.items():
            p[i].copy_(weights[name].to(trainer.device))
        trainer.optimizer.load_member_state(i, state["optimizer"])
        trainer.shuffle_gens[i].set_state(state["shuffle_rng"])
        if "dropout_rng" in state:
            trainer.dropouts[i].generator.set_state(state["dropout_rng"])
        trainer.rows_written[i] = state["metrics_rows"]
        store.truncate_metrics(state["metrics_rows"])
        trainer.wall_before = max(trainer.wall_before, state["wall_seconds"])


def describe(trainer: PackTrainer, i: int) -> dict[str, Any]:
    """What rebuilds member i's model from its weights file alone."""
    from omegaconf import OmegaConf

    return {
        "model_args": trainer.model_cfgs[i].to_dict(),
        "config": OmegaConf.to_container(trainer.members[i].cfg, resolve=True),
    }


def save(trainer: PackTrainer, epoch: int, wall: float, only: list[int] | None = None) -> None:
    """Checkpoint every healthy member (or the members ``only``: those that stop here)."""
    for i, (store, member) in enumerate(zip(trainer.stores, trainer.members, strict=True)):
        if not trainer.active(i) or (only is not None and i not in only):
            continue
        state = {
            "optimizer": trainer.optimizer.member_state(i),
            "shuffle_rng": trainer.shuffle_gens[i].get_state(),
            "dropout_rng": trainer.dropouts[i].generator.get_state().cpu(),
            "metrics_rows": trainer.rows_written[i],
            "wall_seconds": wall,
        }
        store.save_checkpoint(epoch, trainer.member_state_dict(i), state, describe(trainer, i))
        tc = member.cfg.train
        store.prune(tc.get("keep_checkpoints", 1), tc.get("keep_weights"))


# --- summaries -------------------------------------------------------------------------
def _base(trainer: PackTrainer, i: int, status: str) -> dict[str, Any]:
    cfg = trainer.members[i].cfg
    return {
        "status": status,
        "task": cfg.task.name,
        "seeds": {"data_seed": int(cfg.task.data_seed), "model_seed": int(cfg.model.seed)},
        "device": hardware.describe(trainer.device),
        "versions": versions(),
        "pack": {"size": len(trainer.members), "index": i},
        "milestone": milestone_spec(trainer.tasks[i].milestone),
    }


def write_start(trainer: PackTrainer) -> None:
    """Status ``running`` and a new segment, before the first epoch of this segment."""
    trainer.segments = []
    for i, (store, plan) in enumerate(zip(trainer.stores, trainer.plans, strict=True)):
        previous = _previous_summary(store) if plan.kind == "resume" else {}
        seg = segment(trainer.epoch, hardware.describe(trainer.device), plan.changes)
        trainer.segments.append([*previous.get("segments", []), seg])
        summary = {**previous, **_base(trainer, i, "running"), "segments": trainer.segments[i]}
        summary.pop("failure", None)
        summary.pop("failure_kind", None)
        store.write_summary(summary)


def _previous_summary(store: Any) -> dict[str, Any]:
    try:
        return store.read_summary() or {}
    except DamagedFile:
        return {}


def finalize(trainer: PackTrainer, i: int, wall: float) -> dict[str, Any]:
    store, member = trainer.stores[i], trainer.members[i]
    rows = store.read_metrics()
    final = {k: rows[-1][k] for k in trainer.metric_names} if rows else {}
    epochs = trainer.failed_at[i] if trainer.failed_at[i] is not None else trainer.epoch
    status = "failed" if trainer.failure[i] else "done"
    stopped = trainer.stopper.block(i, epochs)
    cut = trainer.stop_signal is not None and trainer.epoch < trainer.epochs
    if status == "done" and cut and stopped is None:
        status = "interrupted"
    goal = trainer.tasks[i].milestone
    marks = milestones(rows, goal)
    trained = trainer.epoch - trainer.start_epoch
    segments = trainer.segments[i]
    segments[-1]["end_epoch"] = epochs
    summary = _base(trainer, i, status)
    summary.update(
        {
            "epochs": epochs,
            "final": final,
            **marks,
            "phases": phases(rows, marks),
            "wall_seconds": wall,
            "epochs_per_second": trained / max(wall - trainer.wall_before, 1e-9)
            if trained
            else None,
            "segments": segments,
        }
    )
    if stopped is not None:
        summary["stopped"] = stopped
    if trainer.failure[i]:
        summary["failure"] = trainer.failure[i]
        summary["failure_kind"] = "diverged"
    store.write_summary(summary)
    for sink in member.sinks:
        sink.finish(summary)
    return summary


def record_crash(trainer: PackTrainer, error: BaseException) -> None:
    """Best effort: the disk may be full, but a status that says ``running`` forever lies.
    A refusal before this segment wrote anything leaves the run dir as it was, except that
    a run none of whose checkpoints can be read says so (its summary said ``running``)."""
    unreadable = isinstance(error, NoReadableCheckpoint)
    if not trainer.segments and not unreadable:
        return
    for i, store in enumerate(trainer.stores):
        reason = str(error) if unreadable else failure_reason(error, store.dir)
        kind = "damaged" if unreadable else failure_kind(error)
        summary = {**_previous_summary(store), **_base(trainer, i, "failed")}
        if unreadable:
            summary.setdefault("epochs", trainer.epoch)
        else:
            summary["epochs"] = trainer.epoch
        summary.update({"failure": reason, "failure_kind": kind})
        try:
            try:
                store.write_summary(summary)
            except OSError:  # a full disk: no room for a temp file
                overwrite_json(store.dir / SUMMARY, summary)
        except Exception as e:
            warnings.warn(f"could not record the failure in {store.dir}: {e!r}", stacklevel=2)
        for sink in trainer.members[i].sinks:
            with contextlib.suppress(Exception):  # W&B trouble never hides the failure
                sink.finish({"status": "failed", "failure": reason})

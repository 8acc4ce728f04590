"""Checkpoints, resume and summaries of a pack: every exit path leaves a true record.

- ``restore`` follows the members' ``RunPlan`` (grok.train.contract): start over, or resume
  from the newest checkpoint every member can read (a damaged newest file is named and an
  older one used; the metrics rows are cut back to that checkpoint).
- ``save`` checkpoints each member that is still healthy (a diverged member keeps its
  last finite checkpoint).
- ``finalize`` writes the final summary: ``done``, ``failed`` (diverged), ``interrupted``.
- ``record_crash`` marks every member ``failed`` with the reason (out of memory, disk full,
  the exception) before the exception propagates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import OmegaConf

from grok import hardware
from grok.errors import ConfigError
from grok.measures.phases import phases
from grok.store import DamagedFile, RunStore, versions
from grok.train import init_from
from grok.train.contract import ResumeRefused
from grok.train.member import MemberRecord, MemberSpec
from grok.train.stack import Stack
from grok.train.summary import failure_kind, failure_reason, milestone_spec, milestones, segment


@dataclass
class Progress:
    """Where this training segment stands: what summaries say about time and place."""

    device: torch.device
    start_epoch: int = 0  # the epoch this segment started (or resumed) at
    epoch: int = 0  # the last epoch trained
    wall_before: float = 0.0  # wall seconds of the segments before this one


class NoReadableCheckpoint(ResumeRefused):
    """Every checkpoint the plan could resume from is damaged (a refusal: exit 2)."""


def restore(stack: Stack, records: list[MemberRecord], progress: Progress) -> None:
    """Follow the members' plans: start over, or load their newest common readable
    checkpoint; sets where this segment starts."""
    plans = [r.plan for r in records]
    if len({(p.kind, p.epoch) for p in plans}) != 1:
        where = ", ".join(f"{r.store.dir}: {r.plan.kind} at {r.plan.epoch}" for r in records)
        raise ConfigError(f"a pack's members must start from the same epoch ({where})")
    if plans[0].kind == "fresh":
        for i, record in enumerate(records):
            if record.plan.restart:
                record.store.clear()
            if record.plan.source is not None:
                _start_from(stack, i, record.plan.source)
        return
    common = set.intersection(*(set(r.store.resumable_epochs()) for r in records))
    for epoch in sorted((e for e in common if e <= plans[0].epoch), reverse=True):
        try:
            saved = [r.store.load_checkpoint(epoch) for r in records]
        except DamagedFile as e:
            warnings.warn(f"{e}; trying an older checkpoint", stacklevel=2)
            continue
        _load(stack, records, saved, progress)
        progress.start_epoch = progress.epoch = epoch
        stack.steps_done = epoch * stack.steps_per_epoch
        return
    dirs = ", ".join(str(r.store.dir) for r in records)
    raise NoReadableCheckpoint(
        f"no readable checkpoint to resume in {dirs}; start over with train.resume=false "
        "(deletes what is there) or use a new run dir"
    )


@torch.no_grad()
def _start_from(stack: Stack, i: int, source: init_from.Source) -> None:
    """Member ``i`` starts from another run's checkpoint (``train.init_from``); the
    step count stays this run's own."""
    weights, optimizer = init_from.load(source)
    missing = sorted(set(stack.params) - set(weights))
    if missing:  # model_args matched (locate), so only a file grok did not write lacks them
        raise init_from.InitRefused(f"train.init_from: {source.weights} lacks {missing}")
    for name, p in stack.params.items():
        p[i].copy_(weights[name].to(stack.device))
    if optimizer is not None:
        stack.optimizer.load_member_state(i, {**optimizer, "step": 0.0})


@torch.no_grad()
def _load(
    stack: Stack, records: list[MemberRecord], saved: list[tuple[dict, dict]], progress: Progress
) -> None:
    for i, (spec, record, (weights, state)) in enumerate(
        zip(stack.specs, records, saved, strict=True)
    ):
        for name, p in stack.params.items():
            p[i].copy_(weights[name].to(stack.device))
        stack.optimizer.load_member_state(i, state["optimizer"])
        spec.shuffle_gen.set_state(state["shuffle_rng"])
        if "dropout_rng" in state:
            spec.dropout.generator.set_state(state["dropout_rng"])
        record.rows = state["metrics_rows"]
        record.store.truncate_metrics(state["metrics_rows"])
        progress.wall_before = max(progress.wall_before, state["wall_seconds"])


def describe(spec: MemberSpec) -> dict[str, Any]:
    """What rebuilds a member's model from its weights file alone (nanoGPT's model_args)."""
    return {
        "model_args": spec.model_cfg.to_dict(),
        "config": OmegaConf.to_container(spec.cfg, resolve=True),
    }


def save(
    stack: Stack,
    records: list[MemberRecord],
    epoch: int,
    wall: float,
    only: list[int] | None = None,
) -> None:
    """Checkpoint every healthy member (or the members ``only``: those that stop here); a
    diverged member keeps its last finite checkpoint."""
    for i, (spec, record) in enumerate(zip(stack.specs, records, strict=True)):
        if not record.active or (only is not None and i not in only):
            continue
        state = {
            "optimizer": stack.optimizer.member_state(i),
            "shuffle_rng": spec.shuffle_gen.get_state(),
            "dropout_rng": spec.dropout.generator.get_state().cpu(),
            "metrics_rows": record.rows,
            "wall_seconds": wall,
        }
        record.store.save_checkpoint(epoch, stack.member_state_dict(i), state, describe(spec))
        tc = spec.cfg.train
        record.store.prune(tc.keep_checkpoints, tc.keep_weights)


# --- summaries -------------------------------------------------------------------------
def _base(spec: MemberSpec, record: MemberRecord, status: str, device: torch.device) -> dict:
    cfg = spec.cfg
    return {
        "status": status,
        "task": cfg.task.name,
        "seeds": {"data_seed": int(cfg.task.data_seed), "model_seed": int(cfg.model.seed)},
        "device": hardware.describe(device),
        "versions": versions(),
        "pack": {"size": record.pack_size, "index": record.origin},  # as the pack started
        "milestone": milestone_spec(spec.task.milestone),
        **({"init_from": record.plan.init} if record.plan.init is not None else {}),
    }


def write_start(specs: list[MemberSpec], records: list[MemberRecord], progress: Progress) -> None:
    """Status ``running`` and a new segment, before the first epoch of this segment."""
    for spec, record in zip(specs, records, strict=True):
        previous = _previous_summary(record.store) if record.plan.kind == "resume" else {}
        seg = segment(progress.epoch, hardware.describe(progress.device), record.plan.changes)
        record.segments = [*previous.get("segments", []), seg]
        base = _base(spec, record, "running", progress.device)
        summary = {**previous, **base, "segments": record.segments}
        summary.pop("failure", None)
        summary.pop("failure_kind", None)
        record.start(summary)


def _previous_summary(store: RunStore) -> dict[str, Any]:
    try:
        return store.read_summary() or {}
    except DamagedFile:
        return {}


def finalize(
    spec: MemberSpec,
    record: MemberRecord,
    progress: Progress,
    wall: float,
    cut: bool,
    metric_names: list[str],
) -> dict[str, Any]:
    """The final summary of a member: ``done``, ``failed``
    (diverged) or, when a signal ``cut`` training short, ``interrupted``."""
    rows = record.store.read_metrics()
    final = {k: rows[-1][k] for k in metric_names} if rows else {}
    epochs = record.failed_at if record.failed_at is not None else progress.epoch
    status = "failed" if record.failure else "done"
    stopped = record.stop.block(epochs)
    if status == "done" and cut and stopped is None:
        status = "interrupted"
    marks = milestones(rows, spec.task.milestone)
    trained = progress.epoch - progress.start_epoch
    record.segments[-1]["end_epoch"] = epochs
    summary = _base(spec, record, status, progress.device)
    summary.update(
        {
            "epochs": epochs,
            "final": final,
            **marks,
            "phases": phases(rows, marks),
            "wall_seconds": wall,
            "epochs_per_second": trained / max(wall - progress.wall_before, 1e-9)
            if trained
            else None,
            "segments": record.segments,
        }
    )
    if stopped is not None:
        summary["stopped"] = stopped
    if record.failure:
        summary["failure"] = record.failure
        summary["failure_kind"] = "diverged"
    record.finish(summary)
    return summary


def record_crash(
    specs: list[MemberSpec], records: list[MemberRecord], error: BaseException, progress: Progress
) -> None:
    """Mark every member ``failed`` with the reason (out of memory, disk full, the exception)
    before the exception propagates. A refusal before this segment wrote anything leaves the
    run dir as it was, except that a run none of whose checkpoints can be read says so (its
    summary said ``running``)."""
    unreadable = isinstance(error, NoReadableCheckpoint)
    if not any(r.segments for r in records) and not unreadable:
        return
    for spec, record in zip(specs, records, strict=True):
        reason = str(error) if unreadable else failure_reason(error, record.store.dir)
        kind = "damaged" if unreadable else failure_kind(error)
        summary = {
            **_previous_summary(record.store),
            **_base(spec, record, "failed", progress.device),
        }
        if unreadable:
            summary.setdefault("epochs", progress.epoch)
        else:
            summary["epochs"] = progress.epoch
        summary.update({"failure": reason, "failure_kind": kind})
        record.crash(summary)

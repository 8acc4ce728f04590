"""One member of a pack on the host: what its config gives it, and where its record goes.

The trainer holds two lists, ``specs`` and ``records``, one entry per member; a member that
leaves the pack (``train.stop_after_grok``) is cut from both at once, so no per-member value
can be forgotten when the pack shrinks.

- ``MemberSpec``: what the member's own config gives it (task, model config, loss, cadences,
  measures, dropout and batch-order generators). Built once; schedules are host integers, so
  deciding what an epoch does never syncs with the device.
- ``MemberRecord``: its record so far (plan, rows written, failure, segments, stop state)
  and its sinks. The run dir is the first sink: ``start/append/finish/crash`` write the run
  dir, then the mirrors (W&B), so a mirror never holds what the run dir lacks.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from grok.measures import Measure, build_measures
from grok.model import TransformerConfig, model_config
from grok.model.dropout import DropoutStream
from grok.store import SUMMARY, RunStore
from grok.store.files import overwrite_json
from grok.task import Task, build_task
from grok.train.contract import RunPlan
from grok.train.stopping import StopState


@dataclass
class Member:
    """One run of a pack as the launcher hands it over: its own resolved config, run dir,
    naming, mirrors (W&B) and plan (``grok.run.prepare_member`` claims the dir and decides
    the plan; nothing else builds members)."""

    cfg: DictConfig
    run_dir: Path
    plan: RunPlan
    info: dict[str, Any] = field(default_factory=dict)
    sinks: list[Any] = field(default_factory=list)


@dataclass
class MemberSpec:
    """What a member's config gives it; fixed for the whole run."""

    cfg: DictConfig
    task: Task
    model_cfg: TransformerConfig
    loss: str  # train.loss (null in the config: the task's own)
    epochs: int  # train.epochs (pack-wide; kept here so schedules read one object)
    eval_every: int
    measures: list[Measure]
    measure_every: int  # 0: no measures
    dropout: DropoutStream
    shuffle_gen: torch.Generator  # batch order (minibatches and random_batch sampling)

    @classmethod
    def of(cls, cfg: DictConfig, device: torch.device) -> MemberSpec:
        task = build_task(cfg.task)
        return cls(
            cfg=cfg,
            task=task,
            model_cfg=model_config(cfg.model, task),
            loss=cfg.train.loss or task.losses[0],
            epochs=int(cfg.train.epochs),
            eval_every=int(cfg.train.eval_every),
            measures=build_measures(cfg.measures, task),
            measure_every=int(cfg.measures.every),
            dropout=DropoutStream.of(cfg.model, device),
            shuffle_gen=torch.Generator().manual_seed(
                int(cfg.model.seed) * 1_000_003 + task.data_seed
            ),
        )

    def measures_at(self, epoch: int, stop_at: int | None) -> bool:
        last = epoch in (self.epochs, stop_at)  # a stop known in advance (N >= 1)
        return bool(self.measures) and (epoch % self.measure_every == 0 or last)

    def evaluates_at(self, epoch: int, stop_at: int | None) -> bool:
        """Epochs the member evaluates at alone: its rows in metrics.jsonl."""
        last = epoch in (self.epochs, stop_at)
        return epoch % self.eval_every == 0 or last or self.measures_at(epoch, stop_at)


@dataclass
class MemberRecord:
    """A member's record so far; the run dir first, then its mirrors."""

    origin: int  # the member's index in the pack as it started (summaries keep that order)
    pack_size: int  # the pack's size as it started: members that leave do not renumber it
    store: RunStore
    sinks: list[Any]
    plan: RunPlan
    stop: StopState
    rows: int = 0  # rows of metrics.jsonl written (restored from a checkpoint on resume)
    failure: str | None = None  # set when it diverges; its record then stops
    failed_at: int | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, origin: int, pack_size: int, member: Member) -> MemberRecord:
        stop = StopState(member.cfg.train.stop_after_grok, int(member.cfg.train.epochs))
        return cls(origin, pack_size, RunStore(member.run_dir), member.sinks, member.plan, stop)

    @property
    def active(self) -> bool:
        return self.failure is None

    def start(self, summary: dict[str, Any]) -> None:
        self.store.write_summary(summary)
        for sink in self.sinks:
            sink.start()

    def append(self, rows: list[dict[str, Any]]) -> None:
        self.store.append_metrics(rows)
        for sink in self.sinks:
            sink.log(rows)
        self.rows += len(rows)

    def interrupted(self) -> None:
        for sink in self.sinks:
            sink.interrupted()

    def finish(self, summary: dict[str, Any]) -> None:
        self.store.write_summary(summary)
        for sink in self.sinks:
            sink.finish(summary)

    def crash(self, summary: dict[str, Any]) -> None:
        """Best effort: the disk may be full, but a status that says ``running`` forever
        lies; W&B trouble never hides the failure."""
        try:
            try:
                self.store.write_summary(summary)
            except OSError:  # a full disk: no room for a temp file
                overwrite_json(self.store.dir / SUMMARY, summary)
        except Exception as e:
            warnings.warn(f"could not record the failure in {self.store.dir}: {e!r}", stacklevel=2)
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                sink.finish({"status": "failed", "failure": summary["failure"]})

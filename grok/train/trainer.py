"""The training loop: a pack of same-shape runs trained together; a lone run is a pack of one.

A member is exactly its own run: its weights are initialised from its own model config, its
optimizer, schedule, evaluation cadence and measures come from its own config
(``Pack.shared`` refuses to hand out a per-member key), measures see it alone through a
``MemberView``, and its metrics rows are those its lone run would write.

Who holds what: ``Stack`` (grok.train.stack) the stacked tensors on the device and the math;
``MemberSpec`` / ``MemberRecord`` (grok.train.member) each member's config-given values and
its record; ``grok.train.resume`` checkpoints and summaries; this module the loop, which
reads top to bottom. The hot loop never reads a value back to the host: evaluations stay on
the device and are flushed (one transfer) every ``train.log_every`` epochs, at checkpoints,
at a member's stop and at the end.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from typing import Any

import torch
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from grok import hardware
from grok.train import resume
from grok.train.checkpoints import checkpoint_at
from grok.train.cuda_graph import capture_step
from grok.train.eta import Estimate
from grok.train.member import Member, MemberRecord, MemberSpec
from grok.train.pack import Pack
from grok.train.records import Measured, Pending, measure, postfix, write_rows
from grok.train.resume import Progress
from grok.train.signals import Signals, stop_on_signals
from grok.train.stack import Stack, metric_names


class PackTrainer:
    def __init__(self, members: list[Member], progress: bool = True):
        self.pack = Pack([m.cfg for m in members])
        shared = self.pack.shared
        device = hardware.resolve_device(shared("hardware.device"))
        self.show_bar = progress
        # Per-member state: two lists, cut together when members leave (``leave``).
        self.specs = [MemberSpec.of(m.cfg, device) for m in members]
        self.records = [MemberRecord.of(i, len(members), m) for i, m in enumerate(members)]
        self.stack = Stack(self.pack, self.specs, device)
        self.epochs = int(shared("train.epochs"))
        self.log_every = int(shared("train.log_every"))
        every = int(shared("train.checkpoint_every"))
        self.checkpoint_at = checkpoint_at(shared("train.checkpoint_schedule"), every)
        self.metric_names = metric_names(self.stack.task)
        self.progress = Progress(device)
        self.signals = Signals()
        self.measured: Measured = {}  # measure values waiting for their epoch's row
        self.summaries: dict[int, dict[str, Any]] = {}  # by origin: members that left
        self.graph: torch.cuda.CUDAGraph | None = None

    # --- loop ---------------------------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Train to ``train.epochs``; every exit leaves a true status (``resume.finalize``).
        With the bar on, console log lines (Hydra's, a library's INFO such as devinterp's)
        print above it instead of tearing it."""
        logs = logging_redirect_tqdm() if self.show_bar else contextlib.nullcontext()
        with stop_on_signals() as self.signals, logs:
            try:
                summaries = self._fit()
            except Exception as e:
                resume.record_crash(self.specs, self.records, e, self.progress)
                raise
        stop = self.signals.stop
        if stop == signal.SIGUSR2 and self.signals.requeue is not None:
            self.signals.requeue(signal.SIGUSR2, None)  # submitit: checkpoint() + requeue + exit
        if stop is not None:
            raise SystemExit(128 + stop)
        return summaries

    def _fit(self) -> list[dict[str, Any]]:
        resume.restore(self.stack, self.records, self.progress)
        start = self.progress.epoch
        resume.write_start(self.specs, self.records, self.progress)
        if start < self.epochs and self.pack.shared("train.cuda_graph"):
            self.graph = capture_step(self.stack)
        t0 = time.perf_counter()

        def wall() -> float:
            return self.progress.wall_before + time.perf_counter() - t0

        pending: Pending = []
        if start == 0:
            self._evaluate_due(0, pending)
        bar = tqdm(
            total=self.epochs,
            initial=start,
            desc=self._desc(),
            unit="ep",
            disable=not self.show_bar,
            mininterval=1.0,
            dynamic_ncols=True,
        )
        estimate = Estimate(start, self.epochs, self.progress.device, self._say)
        pending = self._restart(start, pending, bar)
        for epoch in range(start + 1, self.epochs + 1):
            if not self.records:
                break  # every member stopped
            self.stack.train_epoch(self.graph)
            self.progress.epoch = epoch
            bar.update()  # a host counter: the bar moves every epoch, with no device sync
            self._evaluate_due(epoch, pending)
            stopping = self.signals.stop is not None
            requested = self.signals.checkpoint_requested
            checkpoint = self.checkpoint_at(epoch) or epoch == self.epochs or stopping or requested
            if stopping or requested:
                for record in self.records:
                    record.interrupted()
            self.signals.checkpoint_requested = False
            logged = epoch % self.log_every == 0
            if self.show_bar:
                estimate.update(epoch, time.perf_counter() - t0, logged)
            if logged or checkpoint or self._flush_due(epoch):
                now = wall()
                self._flush(pending, bar, now)
                pending = []
                self._settle(epoch, now)  # stopped members: record, then leave
                if not any(r.active for r in self.records):
                    break  # every member diverged or stopped: nothing left to train
            if checkpoint:
                resume.save(self.stack, self.records, epoch, wall())
            if stopping:
                break
        bar.close()
        now = wall()
        for i, record in enumerate(self.records):
            self.summaries[record.origin] = self._finalize(i, now)
        return [self.summaries[i] for i in sorted(self.summaries)]

    # --- one epoch's bookkeeping (host-side integers: deciding never syncs) ---------------
    def _evaluate_due(self, epoch: int, pending: Pending) -> None:
        """Evaluate (on the device) if some member has a row at ``epoch``; run the measures
        due there."""
        members = list(zip(self.specs, self.records, strict=True))
        due = [r for s, r in members if s.evaluates_at(epoch, r.stop.at)]
        if due:
            pending.append((epoch, self.stack.evaluate()))
            for record in due:
                if record.active:
                    record.stop.evaluated(epoch)
        if any(s.measures_at(epoch, r.stop.at) for s, r in members):
            self.measured[epoch] = measure(self.stack, self.records, epoch)

    def _flush_due(self, epoch: int) -> bool:
        return any(r.stop.flush_due(epoch) for r in self.records)

    def _flush(self, pending: Pending, bar: Any, wall: float) -> None:
        if pending:
            latest = write_rows(
                pending,
                self.specs,
                self.records,
                self.metric_names,
                self.measured,
                wall,
                self.progress.epoch,
            )
            bar.set_postfix(postfix(latest, self.stack.task.milestone), refresh=False)

    def _finalize(self, i: int, wall: float) -> dict[str, Any]:
        cut = self.signals.stop is not None and self.progress.epoch < self.epochs
        spec, record = self.specs[i], self.records[i]
        return resume.finalize(spec, record, self.progress, wall, cut, self.metric_names)

    # --- train.stop_after_grok (grok.train.stopping) -------------------------------------
    def _restart(self, epoch: int, pending: Pending, bar: Any) -> Pending:
        """At a (re)start: G from the rows kept so far; members that stop here are finished
        at once (N <= 1 with G = 0, or a kill between a stop's checkpoint and its summary).
        Returns the evaluations still pending."""
        if epoch > 0:
            for spec, record in zip(self.specs, self.records, strict=True):
                if record.stop.undecided:
                    record.stop.learn(record.store.read_metrics(), spec.task.milestone, epoch)
        if self._flush_due(epoch):
            self._flush(pending, bar, self.progress.wall_before)
            pending = []
        self._settle(epoch, self.progress.wall_before, save=epoch == 0)
        return pending

    def _settle(self, epoch: int, wall: float, save: bool = True) -> None:
        """After a flush at ``epoch``: members that stop here get their checkpoint and
        summary and leave the pack."""
        done = [i for i, r in enumerate(self.records) if r.stop.at == epoch and r.active]
        if not done:
            return
        if save:
            resume.save(self.stack, self.records, epoch, wall, only=done)
        for i in done:
            self.summaries[self.records[i].origin] = self._finalize(i, wall)
        self._leave([i for i in range(len(self.records)) if i not in done])

    def _leave(self, keep: list[int]) -> None:
        """Only members ``keep`` train on: both per-member lists and the stacked tensors are
        cut to them (pack-wide values agree, so the pack's ``shared`` still holds)."""
        self.specs = [self.specs[i] for i in keep]
        self.records = [self.records[i] for i in keep]
        self.measured = {e: [rows[i] for i in keep] for e, rows in self.measured.items()}
        if not keep:
            return  # nobody left to train: the loop ends
        self.stack.take(keep, self.specs)
        if self.graph is not None:
            self.graph = capture_step(self.stack)

    @staticmethod
    def _say(line: str) -> None:
        tqdm.write(line, file=sys.stderr)  # above the bar, on the bar's stream

    def _desc(self) -> str:
        name = self.specs[0].cfg.task.name
        return name if len(self.specs) == 1 else f"{name} x{len(self.specs)}"


def train_pack(members: list[Member], progress: bool = True) -> list[dict[str, Any]]:
    """Train ``members`` (claimed and planned by ``grok.run.prepare_member``) fused; a member
    whose run dir holds its finished run is left as it is (its stored summary is returned)."""
    summaries: list[Any] = [m.plan.summary for m in members]
    for member in members:
        if member.plan.kind == "finished":  # a kill may have cut its W&B mirror short
            for sink in member.sinks:
                sink.catch_up(member.plan.summary)
    todo = [i for i, m in enumerate(members) if m.plan.kind != "finished"]
    if todo:
        shared = Pack([members[i].cfg for i in todo]).shared
        device = hardware.resolve_device(shared("hardware.device"))
        with hardware.configured(device, shared("hardware.threads"), shared("hardware.tf32")):
            trained = PackTrainer([members[i] for i in todo], progress=progress).fit()
        for i, summary in zip(todo, trained, strict=True):
            summaries[i] = summary
    return summaries

"""``train.stop_after_grok``: a run stops N epochs after it groks, and leaves its pack.

The rule. G is the grok epoch of ``summary.json`` (the first evaluated epoch whose test
metric reaches the task's milestone, ``grok.train.summary.milestones``). A run with
``stop_after_grok: N`` stops at exactly E = G + N when that is before ``train.epochs``; its
last row, checkpoint and summary are E's. E depends on the member's own rows and N only,
never on the pack, the flush cadence or where a segment was resumed, so a packed member
stops where its lone run stops, and a stopped run is a prefix of the run without the stop
(the learning-rate schedule still counts ``train.epochs``), which is why raising N or
setting it to null continues it exactly.

How it is kept without a host sync per epoch. The hot loop only learns a test accuracy at a
flush, so a flush has to come before E is passed. After each flush, member i's next
evaluated epoch e (the earliest possible G) sets a deadline e + max(N - 1, 0): the pack
flushes there at the latest. Then when G is learned, either E = G + N lies ahead (N >= 1:
the member evaluates at E and the pack flushes there), or N = 0 and the flush was at G = E
itself. With N >= ``train.log_every`` the deadline never comes before the regular flush (no
extra sync); a smaller N costs up to one extra flush per evaluation window of the member.

Leaving. At the flush at E the member's checkpoint and summary are written and it leaves the
pack: every per-member list and stacked tensor is cut to the others, and the optimizer (and
its method stages: Adam moments, Grokfast EMA/MA ring, Muon momentum, fixed-norm target) is
rebuilt for them and loaded with each one's ``member_state``, the very round trip a
checkpoint makes, so nothing per-member can be forgotten. A CUDA graph is captured again.
On the CPU exact path each member computes on its own slices, so the others are unchanged
bit for bit; the fused path stays within its tolerance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from grok.train.pack import Pack
from grok.train.records import flush
from grok.train.summary import milestones

if TYPE_CHECKING:
    from grok.train.trainer import PackTrainer

KEY = "train.stop_after_grok"
# Per-member lists of the trainer, cut together when members leave.
PER_MEMBER = (
    "members",
    "tasks",
    "model_cfgs",
    "losses",
    "stores",
    "dropouts",
    "shuffle_gens",
    "eval_every",
    "measures",
    "measure_every",
    "rows_written",
    "failure",
    "failed_at",
    "plans",
    "segments",
    "origin",
)


def problems(cfg: Any) -> list[str]:
    """``train.stop_after_grok``: null (train to train.epochs) or an integer N >= 0."""
    value = cfg.get("stop_after_grok")
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return []
    return [
        f"train.stop_after_grok={value!r}: must be null (train to train.epochs) or an "
        "integer >= 0 (stop that many epochs after the grok epoch)"
    ]


def stop_epoch(grok: int | None, after: int | None, epochs: int) -> int | None:
    """E = G + N when it comes before ``epochs`` (else the run ends at ``epochs``)."""
    if grok is None or after is None or grok + after >= epochs:
        return None
    return grok + after


def end_epoch(grok: int | None, after: int | None, epochs: int) -> int:
    """The epoch a run with grok epoch ``grok`` (None: not yet) ends at."""
    stop = stop_epoch(grok, after, epochs)
    return epochs if stop is None else stop


class Stopper:
    """Each member's N, G once a flush shows it, its stop epoch, and its flush deadline."""

    def __init__(self, members: list[Any], epochs: int):
        self.epochs = epochs
        self.after: list[int | None] = [m.cfg.train.get("stop_after_grok") for m in members]
        self.grok: list[int | None] = [None] * len(members)
        self.at: list[int | None] = [None] * len(members)
        self.deadline: list[int | None] = [None] * len(members)

    def undecided(self, i: int) -> bool:
        return self.after[i] is not None and self.grok[i] is None

    def evaluated(self, members: list[int], epoch: int) -> None:
        """Members ``members`` have a row at ``epoch`` waiting for the next flush."""
        for i in members:
            if self.undecided(i) and self.deadline[i] is None:
                self.deadline[i] = epoch + max(self.after[i] - 1, 0)  # type: ignore[operator]

    def flush_due(self, epoch: int) -> bool:
        """Whether a flush at ``epoch`` is needed to keep some member's stop exact."""
        return any(d is not None and d <= epoch for d in self.deadline) or epoch in self.at

    def learn(self, i: int, rows: list[dict[str, Any]], goal: Any, epoch: int) -> None:
        """Member i's rows just flushed (everything up to ``epoch``)."""
        self.deadline[i] = None
        if not self.undecided(i):
            return
        self.grok[i] = milestones(rows, goal)["grok_epoch"]
        self.at[i] = stop_epoch(self.grok[i], self.after[i], self.epochs)
        if self.at[i] is not None and self.at[i] < epoch:  # the deadline makes this impossible
            raise RuntimeError(f"stop epoch {self.at[i]} passed before the flush at {epoch}")

    def block(self, i: int, epoch: int) -> dict[str, Any] | None:
        """summary.json's ``stopped`` for a member that stops at ``epoch``."""
        if self.at[i] is None or self.at[i] != epoch:
            return None
        return {"reason": "grokked", "epoch": epoch, "grok_epoch": self.grok[i]}

    def keep(self, keep: list[int]) -> None:
        for name in ("after", "grok", "at", "deadline"):
            setattr(self, name, [getattr(self, name)[i] for i in keep])


def start(trainer: PackTrainer, epoch: int, pending: list, bar: Any) -> list:
    """At a (re)start: G from the rows kept so far; members that stop here are finished at
    once (N <= 1 with G = 0, or a kill between a stop's checkpoint and its summary).
    Returns the evaluations still pending."""
    stopper = trainer.stopper
    if epoch > 0:
        for i, store in enumerate(trainer.stores):
            if stopper.undecided(i):
                stopper.learn(i, store.read_metrics(), trainer.tasks[i].milestone, epoch)
    if stopper.flush_due(epoch):
        flush(trainer, pending, bar, 0, trainer.wall_before)
        pending = []
    settle(trainer, epoch, trainer.wall_before, save=epoch == 0)
    return pending


def settle(trainer: PackTrainer, epoch: int, wall: float, save: bool = True) -> None:
    """After a flush at ``epoch``: members that stop here get their checkpoint and summary
    and leave the pack."""
    from grok.train import resume

    stopper = trainer.stopper
    done = [i for i in range(len(trainer.members)) if stopper.at[i] == epoch and trainer.active(i)]
    if not done:
        return
    if save:
        resume.save(trainer, epoch, wall, only=done)
    for i in done:
        trainer.summaries[trainer.origin[i]] = resume.finalize(trainer, i, wall)
    leave(trainer, [i for i in range(len(trainer.members)) if i not in done])


@torch.no_grad()
def leave(trainer: PackTrainer, keep: list[int]) -> None:
    """Re-stack ``trainer`` with members ``keep`` only (see the module docstring)."""
    for name in PER_MEMBER:
        setattr(trainer, name, [getattr(trainer, name)[i] for i in keep])
    trainer.stopper.keep(keep)
    trainer.measured = {e: [rows[i] for i in keep] for e, rows in trainer.measured.items()}
    if not keep:
        return  # nobody left to train: the loop ends
    trainer.pack = Pack(trainer.members)
    index = torch.tensor(keep, device=trainer.device)
    old = trainer.optimizer
    states = [old.member_state(i) for i in keep]
    trainer.params = {
        k: v.detach().index_select(0, index).requires_grad_() for k, v in trainer.params.items()
    }
    if trainer.logit_scales is not None:
        trainer.logit_scales = trainer.logit_scales.index_select(0, index)
    trainer.train_data = trainer.train_data.take(keep)
    trainer.test_data = trainer.test_data.take(keep)
    trainer.derive()
    trainer.optimizer = trainer.build_optimizer()
    for j, state in enumerate(states):
        trainer.optimizer.load_member_state(j, state)
    if trainer._graph is not None:
        trainer._graph = None
        steps = trainer.steps_done  # the capture's warm-up steps are undone, count them out
        trainer.capture_step()
        trainer.steps_done = steps

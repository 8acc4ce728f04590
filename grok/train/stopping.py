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
pack (``PackTrainer.settle``): its ``MemberSpec`` and ``MemberRecord`` are cut from the pack's
two per-member lists, every stacked tensor is cut to the others (``Stack.take``), and the
optimizer (and
its method stages: Adam moments, Grokfast EMA/MA ring, Muon momentum, fixed-norm target) is
rebuilt for them and loaded with each one's ``member_state``, the very round trip a
checkpoint makes, so nothing per-member can be forgotten. A CUDA graph is captured again.
On the CPU exact path each member computes on its own slices, so the others are unchanged
bit for bit; the fused path stays within its tolerance.
"""

from __future__ import annotations

from typing import Any

from grok import checks
from grok.train.summary import milestones

KEY = "train.stop_after_grok"


def problems(cfg: Any) -> list[str]:
    """``train.stop_after_grok``: null (train to train.epochs) or an integer N >= 0."""
    return checks.integer(
        KEY,
        cfg.stop_after_grok,
        low=0,
        null=True,
        text="must be null (train to train.epochs) or an integer >= 0 (stop that many "
        "epochs after the grok epoch)",
    )


def stop_epoch(grok: int | None, after: int | None, epochs: int) -> int | None:
    """E = G + N when it comes before ``epochs`` (else the run ends at ``epochs``)."""
    if grok is None or after is None or grok + after >= epochs:
        return None
    return grok + after


def end_epoch(grok: int | None, after: int | None, epochs: int) -> int:
    """The epoch a run with grok epoch ``grok`` (None: not yet) ends at."""
    stop = stop_epoch(grok, after, epochs)
    return epochs if stop is None else stop


class StopState:
    """One member's N, G once a flush shows it, its stop epoch E, and its flush deadline."""

    def __init__(self, after: int | None, epochs: int):
        self.after = after
        self.epochs = epochs
        self.grok: int | None = None
        self.at: int | None = None  # E, once known
        self.deadline: int | None = None

    @property
    def undecided(self) -> bool:
        return self.after is not None and self.grok is None

    def evaluated(self, epoch: int) -> None:
        """The member has a row at ``epoch`` waiting for the next flush."""
        if self.undecided and self.deadline is None:
            self.deadline = epoch + max(self.after - 1, 0)  # type: ignore[operator]

    def flush_due(self, epoch: int) -> bool:
        """Whether a flush at ``epoch`` is needed to keep this member's stop exact."""
        return (self.deadline is not None and self.deadline <= epoch) or epoch == self.at

    def learn(self, rows: list[dict[str, Any]], goal: Any, epoch: int) -> None:
        """The member's rows just flushed (everything up to ``epoch``)."""
        self.deadline = None
        if not self.undecided:
            return
        self.grok = milestones(rows, goal)["grok_epoch"]
        self.at = stop_epoch(self.grok, self.after, self.epochs)
        if self.at is not None and self.at < epoch:  # the deadline makes this impossible
            raise RuntimeError(f"stop epoch {self.at} passed before the flush at {epoch}")

    def block(self, epoch: int) -> dict[str, Any] | None:
        """summary.json's ``stopped`` for a member that stops at ``epoch``."""
        if self.at is None or self.at != epoch:
            return None
        return {"reason": "grokked", "epoch": epoch, "grok_epoch": self.grok}

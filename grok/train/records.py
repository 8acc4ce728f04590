"""From device to record: pending evaluations become metrics rows, once per flush; measures
join the rows of the epochs they ran at."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from grok.train.member import MemberRecord, MemberSpec
from grok.train.stack import Stack

Pending = list[tuple[int, Tensor]]  # (epoch, evaluation [M, len(metric_names)] on the device)
Measured = dict[int, list[dict[str, Any]]]  # epoch -> each member's measure values


def write_rows(
    pending: Pending,
    specs: list[MemberSpec],
    records: list[MemberRecord],
    metric_names: list[str],
    measured: Measured,
    wall: float,
    epoch: int,
) -> list[dict[str, float]]:
    """Write the evaluations held on the device (one host transfer) as each member's rows,
    the epochs it evaluates at alone, with its measures; a member's record stops at its
    first non-finite train loss (it is marked failed). Returns the newest evaluation's
    values per member (for the progress bar)."""
    values = torch.stack([v for _, v in pending]).cpu().tolist()  # the one host sync
    epochs = [e for e, _ in pending]
    for i, (spec, record) in enumerate(zip(specs, records, strict=True)):
        if not record.active:
            continue
        rows = []
        for e, v in zip(epochs, values, strict=True):
            if not spec.evaluates_at(e, record.stop.at):
                continue
            row = dict(zip(metric_names, v[i], strict=True))
            rows.append({"epoch": e, **row, **measured.get(e, [{}] * len(specs))[i]})
            rows[-1]["wall_seconds"] = wall
            if not math.isfinite(row["train_loss"]):
                record.failure = f"diverged: non-finite train loss at epoch {e}"
                record.failed_at = e
                break  # the record stops at the divergence
        record.append(rows)
        record.stop.learn(rows, spec.task.milestone, epoch)
    for e in epochs:
        measured.pop(e, None)
    return [dict(zip(metric_names, v, strict=True)) for v in values[-1]]


def postfix(latest: list[dict[str, float]], goal: Any) -> dict[str, str]:
    """The progress bar's numbers: a lone run's losses and metric, a pack's grokked count."""
    key = f"test_{goal.metric}"
    if len(latest) == 1:
        row = latest[0]
        shown = ["train_loss", "test_loss", f"train_{goal.metric}", key]
        return {k: f"{row[k]:.3g}" for k in shown}
    grokked = sum(goal.reached(r[key]) for r in latest)
    return {"grokked": f"{grokked}/{len(latest)}"}


def measure(stack: Stack, records: list[MemberRecord], epoch: int) -> list[dict[str, Any]]:
    """Each member's own measures due at ``epoch``; the values join that epoch's row. A
    member whose weights are no longer finite is skipped (its flush marks it failed)."""
    rows: list[dict[str, Any]] = [{} for _ in records]
    for i, (spec, record) in enumerate(zip(stack.specs, records, strict=True)):
        if not (record.active and spec.measures_at(epoch, record.stop.at)):
            continue
        view = stack.view(i, epoch)
        if not all(bool(torch.isfinite(p).all()) for p in view.params.values()):
            continue
        step = epoch // spec.measure_every
        for m in spec.measures:
            if step % m.every_factor == 0 or epoch in (spec.epochs, record.stop.at):
                rows[i].update(m.compute(view))
    return rows

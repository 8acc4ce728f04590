"""From device to record: the pending evaluations become metrics rows, once per flush."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from grok.train.data import SplitTensors


def flush(
    trainer: Any, pending: list[tuple[int, Tensor]], bar: Any, advance: int, wall: float
) -> None:
    """Write the evaluations held on the device (one host transfer) as each member's rows of
    metrics.jsonl (and W&B), the epochs it evaluates at alone, with its measures; a member's
    record stops at its first non-finite train loss (it is marked failed)."""
    if not pending:
        bar.update(advance)
        return
    values = torch.stack([v for _, v in pending]).cpu().tolist()  # the one host sync
    epochs = [e for e, _ in pending]
    for i, store in enumerate(trainer.stores):
        if not trainer.active(i):
            continue
        rows = []
        for e, v in zip(epochs, values, strict=True):
            if not trainer.evaluates_at(i, e):
                continue
            row = dict(zip(trainer.metric_names, v[i], strict=True))
            rows.append(
                {"epoch": e, **row, **trainer.measured.get(e, [{}] * len(trainer.members))[i]}
            )
            rows[-1]["wall_seconds"] = wall
            if not math.isfinite(row["train_loss"]):
                trainer.failure[i] = f"diverged: non-finite train loss at epoch {e}"
                trainer.failed_at[i] = e
                break  # the record stops at the divergence
        store.append_metrics(rows)
        trainer.stopper.learn(i, rows, trainer.tasks[i].milestone, trainer.epoch)
        for sink in trainer.members[i].sinks:
            sink.log(rows)
        trainer.rows_written[i] += len(rows)
    for e in epochs:
        trainer.measured.pop(e, None)
    latest = [dict(zip(trainer.metric_names, v, strict=True)) for v in values[-1]]
    goal = trainer.task.milestone
    key = f"test_{goal.metric}"
    if len(trainer.members) == 1:
        row = latest[0]
        shown = ["train_loss", "test_loss", f"train_{goal.metric}", key]
        bar.set_postfix({k: f"{row[k]:.3g}" for k in shown}, refresh=False)
    else:
        grokked = sum(goal.reached(r[key]) for r in latest)
        bar.set_postfix(grokked=f"{grokked}/{len(latest)}", refresh=False)
    bar.update(advance)


@torch.no_grad()
def evaluate(trainer: Any) -> Tensor:
    """[M, len(metric_names)] on the device (no host sync)."""
    chunk = trainer.pack.shared("train.eval_batch_size")
    columns: list[list[Tensor]] = []
    for data in (trainer.train_data, trainer.test_data):
        per_group = []
        for group, member_data in zip(trainer.groups, trainer.parts(data), strict=True):
            params = {k: v[group] for k, v in trainer.params.items()}
            per_group.append(_split_metrics(trainer, params, member_data, chunk, group))
        columns += [torch.cat(c) for c in zip(*per_group, strict=True)]
    return torch.stack([*columns, weight_norms(trainer)], dim=1)


def _split_metrics(
    trainer: Any, params: dict[str, Tensor], data: SplitTensors, chunk: int | None, group: slice
) -> list[Tensor]:
    """Loss (each member's training objective) and the task's metrics of one split,
    each [members of the group]."""
    totals: dict[str, Tensor] = {}
    for part in data.chunks(chunk):
        outputs = trainer.forward(params, part.x, group)
        values = {
            "loss": trainer.loss_terms(outputs, part.y, group),
            **trainer.task.example_metrics(outputs, part.y),
        }
        for name, v in values.items():
            totals[name] = totals.get(name, 0.0) + part.exact_total(v.double())
    means = {name: t / data.count for name, t in totals.items()}
    means = trainer.task.finish_metrics(means, data.target_var)
    return [means["loss"], *(means[m] for m in trainer.task.metric_names)]


@torch.no_grad()
def weight_norms(trainer: Any) -> Tensor:
    """Sum of squared weights per member, in float64.

    Reduced one member at a time: a [M, K] row reduction is split across
    threads differently for M=1, and a lone run must match its packed twin.
    """
    members = range(len(trainer.members))
    return torch.stack(
        [sum(p[i].double().pow(2).sum() for p in trainer.params.values()) for i in members]
    )


def measure(trainer: Any, epoch: int) -> None:
    """Run each member's own measures due at ``epoch``; the values join that epoch's row.
    A member whose weights are no longer finite is skipped (its flush marks it failed)."""
    rows: list[dict[str, Any]] = [{} for _ in trainer.members]
    members = range(len(trainer.members))
    due = [i for i in members if trainer.measures_at(i, epoch) and trainer.active(i)]
    for i in due:
        view = trainer.view(i)
        if not all(bool(torch.isfinite(p).all()) for p in view.params.values()):
            continue
        step = epoch // trainer.measure_every[i]
        for m in trainer.measures[i]:
            if step % m.every_factor == 0 or epoch in (trainer.epochs, trainer.stopper.at[i]):
                rows[i].update(m.compute(view))
    trainer.measured[epoch] = rows

"""Figures and tables of a sweep: milestones against each swept hyperparameter, overlaid
curves, a table sorted by grok epoch, and a wd x lr phase diagram."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from grok.report.runs import Run, as_number, column, independent_keys, swept_keys
from grok.report.spec import Figure, Heatmap, Panel, Series, Table


def _median_spread(values: list[float]) -> tuple[float, float, float]:
    values = sorted(values)
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return statistics.median(values), q[0], q[2]


def _grouped(
    runs: list[Run], key: str, field: str
) -> tuple[list[Any], list[float], list[float], list[float]]:
    """Median and quartiles of ``field`` over runs sharing ``key``'s value (other keys,
    seeds included, aggregated). Runs that never reached the milestone are left out."""
    groups: dict[Any, list[float]] = {}
    for run in runs:
        value = run.summary.get(field)
        if value is not None:
            groups.setdefault(as_number(run.value(key)), []).append(float(value))
    xs = sorted(groups, key=lambda v: (isinstance(v, str), v))
    stats = [_median_spread(groups[x]) for x in xs]
    return xs, [s[0] for s in stats], [s[1] for s in stats], [s[2] for s in stats]


def _numeric(runs: list[Run], key: str) -> bool:
    return all(isinstance(as_number(r.value(key)), float) for r in runs)


def milestones_vs(runs: list[Run], keys: list[str]) -> Figure | None:
    panels = []
    for key in keys:
        if not _numeric(runs, key):
            panels.append(_milestones_per_choice(runs, key))
            continue
        panel = Panel(f"milestones vs {key}", key, "epoch (median, IQR)")
        for field, label in (("grok_epoch", "grok"), ("memorization_epoch", "memorization")):
            xs, med, lo, hi = _grouped(runs, key, field)
            reached = sum(run.summary.get(field) is not None for run in runs)
            if xs:
                label = f"{label} ({reached}/{len(runs)} runs)"
                panel.series.append(Series(xs, med, label, spread=(lo, hi)))
        numeric = [as_number(r.value(key)) for r in runs]
        panel.logx = (
            all(isinstance(v, float) and v > 0 for v in numeric)
            and max(numeric) / min(numeric) >= 50
        )
        panels.append(panel)
    return (
        Figure("sweep_milestones", "grok and memorization epochs per swept value", panels)
        if panels
        else None
    )


def _milestones_per_choice(runs: list[Run], key: str) -> Panel:
    """A categorical key (``method``): every run's milestone epochs as points, one column
    per value in the order the sweep ran them; a run that did not grok is marked at the last
    epoch it trained."""
    panel = Panel(f"milestones vs {key}", key, "epoch (each run)")
    for field, label in (("memorization_epoch", "memorization"), ("grok_epoch", "grok")):
        reached = [r for r in runs if r.summary.get(field) is not None]
        if reached:
            panel.series.append(
                Series(
                    [str(r.value(key)) for r in reached],
                    [float(r.summary[field]) for r in reached],
                    f"{label} ({len(reached)}/{len(runs)} runs)",
                    kind="scatter",
                )
            )
    missed = [r for r in runs if r.summary.get("grok_epoch") is None and r.summary.get("epochs")]
    if missed:
        panel.series.append(
            Series(
                [str(r.value(key)) for r in missed],
                [float(r.summary["epochs"]) for r in missed],
                f"no grok by the end ({len(missed)} runs)",
                kind="scatter",
            )
        )
    return panel


def colors(runs: list[Run], key: str | None) -> Callable[[Run], float | None]:
    """Each run's position on the colormap by its value of ``key`` (log scale when the
    values span >= 50x), for curves overlaid across a sweep."""
    values = sorted({as_number(r.value(key)) for r in runs}, key=str) if key else []
    numeric = [v for v in values if isinstance(v, float)]

    def position(run: Run) -> float | None:
        if not key:
            return None
        v = as_number(run.value(key))
        if isinstance(v, float) and len(numeric) > 1:
            lo, hi = min(numeric), max(numeric)
            if lo > 0 and hi / lo >= 50:
                return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
            return (v - lo) / (hi - lo)
        return values.index(v) / max(len(values) - 1, 1) if v in values else None

    return position


def overlaid_curves(runs: list[Run], key: str | None) -> Figure:
    position = colors(runs, key)
    metric = runs[0].milestone_metric if runs else "acc"
    panel = Panel(f"test {metric}, colored by {key or 'run'}", "epoch", f"test {metric}")
    for run in runs:
        xs = [r["epoch"] for r in run.rows if f"test_{metric}" in r]
        ys = [r[f"test_{metric}"] for r in run.rows if f"test_{metric}" in r]
        label = f"{key}={run.value(key)}" if key else run.name
        panel.series.append(Series(xs, ys, label, color=position(run)))
    return Figure("sweep_curves", "test curves of every run", [panel])


def posthoc_curves(runs: list[Run], key: str | None) -> Figure | None:
    """Restricted and excluded loss per checkpoint (``grok measure``) of every run that
    has them, colored like the test curves."""
    measured = [r for r in runs if any("fourier/restricted_loss" in row for row in r.posthoc)]
    if not measured:
        return None
    position = colors(runs, key)
    panels = []
    for name, label in (("restricted_loss", "restricted (test)"), ("excluded_loss", "excluded")):
        panel = Panel(f"{label} loss, post hoc", "epoch", "loss (log)", logy=True)
        for run in measured:
            tag = f"{key}={run.value(key)}" if key else run.name
            xs, ys = column(run.posthoc, f"fourier/{name}")
            panel.series.append(Series(xs, ys, tag, color=position(run)))
        panels.append(panel)
    specs = sorted({str(r.posthoc[-1].get("keys")) for r in measured})
    title = f"progress measures per checkpoint (keys: {', '.join(specs)}; {len(measured)} runs)"
    return Figure("sweep_posthoc", title, panels)


def phase_diagram(runs: list[Run], keys: list[str]) -> Figure | None:
    if not {"optim.wd", "optim.lr"} <= set(keys):
        return None
    wds = sorted({float(r.value("optim.wd")) for r in runs})
    lrs = sorted({float(r.value("optim.lr")) for r in runs})
    cells: dict[tuple[float, float], list[float]] = {}
    for r in runs:
        grok = r.summary.get("grok_epoch")
        cell = cells.setdefault((float(r.value("optim.wd")), float(r.value("optim.lr"))), [])
        cell.append(float(grok) if grok is not None else float("nan"))
    z = [[_nan_median(cells.get((wd, lr), [])) for wd in wds] for lr in lrs]
    return Figure(
        "sweep_phase",
        "phase diagram: median grok epoch (blank: no grok)",
        [
            Panel(
                "grok epoch over wd x lr",
                "optim.wd",
                "optim.lr",
                heatmap=Heatmap(z, wds, lrs, "grok epoch"),
                logx=True,
                logy=True,
            )
        ],
    )


def _nan_median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite and len(finite) * 2 >= len(values) else float("nan")


def run_table(runs: list[Run], keys: list[str]) -> Table:
    metric = runs[0].milestone_metric if runs else "acc"
    # the epoch a run stopped at (train.stop_after_grok), where any run of the sweep did
    stops = any(r.summary.get("stopped") for r in runs)

    def row(run: Run) -> list[Any]:
        final = run.summary.get("final", {})
        stopped = [(run.summary.get("stopped") or {}).get("epoch")] if stops else []
        return [
            run.label,
            run.status,
            *(run.value(k) for k in keys),
            run.summary.get("grok_epoch"),
            run.summary.get("memorization_epoch"),
            *stopped,
            final.get(f"test_{metric}"),
            final.get("test_loss"),
        ]

    rows = sorted(
        (row(r) for r in runs), key=lambda x: (x[len(keys) + 2] is None, x[len(keys) + 2] or 0)
    )
    milestones = ["grok_epoch", "memorization_epoch", *(["stopped"] if stops else [])]
    return Table(
        "sweep_table",
        "runs sorted by grok epoch",
        ["run", "status", *keys, *milestones, f"test_{metric}", "test_loss"],
        rows,
    )


def group_table(runs: list[Run], key: str) -> Table:
    """Grok epochs per value of ``key`` (other swept keys, seeds included, pooled), in the
    order the sweep ran them: how many runs grokked, their median and each run's epoch."""
    groups: dict[Any, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.value(key), []).append(run)
    rows = []
    for value, members in groups.items():
        epochs = [r.summary.get("grok_epoch") for r in members]
        reached = [float(e) for e in epochs if e is not None]
        rows.append(
            [
                value,
                f"{len(reached)}/{len(members)}",
                statistics.median(reached) if reached else None,
                ", ".join("-" if e is None else str(e) for e in epochs),
            ]
        )
    return Table(
        "sweep_groups",
        f"grok epochs per {key}",
        [key, "grokked", "median grok_epoch", "grok_epoch of each run"],
        rows,
    )


def sweep_figures(runs: list[Run]) -> tuple[list[Figure], list[Table]]:
    keys = independent_keys(runs, swept_keys(runs))
    figures = [
        milestones_vs(runs, keys),
        overlaid_curves(runs, keys[0] if keys else None),
        posthoc_curves(runs, keys[0] if keys else None),
        phase_diagram(runs, keys),
    ]
    # a categorical first key (method, task.op) gets its medians as a table, as the numeric
    # ones get them as a line
    tables = [group_table(runs, keys[0])] if keys and not _numeric(runs, keys[0]) else []
    return [f for f in figures if f is not None], [*tables, run_table(runs, keys)]

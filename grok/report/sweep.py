"""Figures and tables of a sweep: milestones against each swept hyperparameter, overlaid
curves, a table sorted by grok epoch, and a wd x lr phase diagram."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from grok.report.algorithm import pizza_vs
from grok.report.continued import continued_vs
from grok.report.groups import (
    SEED_KEYS,
    Layout,
    categorical,
    colors,
    group_label,
    layout,
    median_curve,
    median_spread,
    ordered_values,
    replicate_groups,
)
from grok.report.runs import as_number, column
from grok.report.spec import Figure, Heatmap, Panel, Series, Table
from grok.store.catalog import Run

MILESTONES = (("grok_epoch", "grok"), ("memorization_epoch", "memorization"))


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
    xs = sorted(groups)
    stats = [median_spread(groups[x]) for x in xs]
    return xs, [s[0] for s in stats], [s[1] for s in stats], [s[2] for s in stats]


def _reached(runs: list[Run], field: str) -> str:
    return f"{sum(r.summary.get(field) is not None for r in runs)}/{len(runs)}"


def milestones_vs(runs: list[Run], lay: Layout) -> Figure | None:
    panels = [
        _milestones_per_choice(runs, key) if categorical(runs, key) else _milestones(runs, key, lay)
        for key in lay.x
    ]
    pooled = [k for k in lay.keys if k not in lay.group_keys() + lay.x]
    notes = [f"pooled over {', '.join(pooled)}"] if pooled else []
    if not any(r.summary.get("grok_epoch") is not None for r in runs):
        notes.append(f"no run grokked, 0/{len(runs)}")  # else an absent grok line reads as a bug
    over = f" ({'; '.join(notes)})" if notes else ""
    return (
        Figure("sweep_milestones", f"grok and memorization epochs per swept value{over}", panels)
        if panels
        else None
    )


def _milestones(runs: list[Run], key: str, lay: Layout) -> Panel:
    """A numeric key: the median milestone per value with its IQR over the other keys, and
    each run as a dot; split into one grok line per colour value when the colour is another
    swept key."""
    panel = Panel(f"milestones vs {key}", key, "epoch (median, IQR)")
    split = lay.color if lay.color and lay.color != key else None
    if split:
        position = colors(runs, split)
        for members in replicate_groups(runs, [split]):
            xs, med, lo, hi = _grouped(members, key, "grok_epoch")
            if xs:
                label = (
                    f"grok, {split}={members[0].value(split)} ({_reached(members, 'grok_epoch')})"
                )
                color = position(members[0])
                panel.series.append(
                    Series(xs, med, label, color=color, spread=(lo, hi), marker=True)
                )
    fields = MILESTONES[1:] if split else MILESTONES
    for field, name in fields:
        xs, med, lo, hi = _grouped(runs, key, field)
        if xs:
            label = f"{name} ({_reached(runs, field)} runs)"
            panel.series.append(
                Series(xs, med, label, spread=(lo, hi), marker=True, dash=name == "memorization")
            )
    dots = [(r, field) for field, _ in MILESTONES for r in runs if r.summary.get(field) is not None]
    if len(dots) > len({(f, r.value(key)) for r, f in dots}):  # replicates: show each one
        panel.series.append(
            Series(
                [float(as_number(r.value(key))) for r, _ in dots],
                [float(r.summary[f]) for r, f in dots],
                "each run",
                kind="scatter",
                color="#888888",
            )
        )
    values = ordered_values(runs, key)
    numeric = [float(as_number(v)) for v in values]
    panel.logx = min(numeric) > 0 and max(numeric) / min(numeric) >= 50
    panel.xticks = numeric if len(numeric) <= 12 else None
    return panel


def _milestones_per_choice(runs: list[Run], key: str) -> Panel:
    """A categorical key (``method``, a seed): every run's milestone epochs as points, one
    column per value in the order the sweep ran them; a run that did not grok is marked at
    the last epoch it trained."""
    panel = Panel(f"milestones vs {key}", key, "epoch (each run)", categorical_x=True)
    panel.xticks = [str(v) for v in ordered_values(runs, key)]
    for field, label in reversed(MILESTONES):
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


def _by_group(
    runs: list[Run], lay: Layout, rows: Callable[[Run], list[dict[str, Any]]], field: str
) -> list[Series]:
    """One curve per group of replicates: the median over its seeds with their IQR band,
    coloured by ``lay.color``, labelled by the keys that tell the groups apart."""
    position = colors(runs, lay.color)
    keys = lay.group_keys()
    groups = replicate_groups(runs, keys)
    series = []
    for members in groups:
        curves = [column(rows(r), field) for r in members]
        curves = [c for c in curves if c[0]]
        if not curves:
            continue
        xs, ys, band = median_curve(curves)
        first = members[0]
        label = group_label(first, keys, len(curves))
        # the legend names colours only: one entry per value of the colour key
        legend = f"{lay.color}={first.value(lay.color)}" if lay.color and len(keys) > 1 else None
        band = band if len(groups) <= 6 else None  # more bands than that hide the curves
        series.append(Series(xs, ys, label, color=position(first), spread=band, legend=legend))
    return series


def _pooled_note(lay: Layout) -> str:
    pooled = [k for k in lay.keys if k not in lay.group_keys()]
    return f"; median, IQR over {', '.join(pooled)}" if pooled else ""


def overlaid_curves(runs: list[Run], lay: Layout) -> Figure:
    metric = runs[0].milestone_metric if runs else "acc"
    title = f"test {metric}, colored by {lay.color or 'run'}{_pooled_note(lay)}"
    panel = Panel(title, "epoch", f"test {metric}")
    panel.series = _by_group(runs, lay, lambda r: r.rows, f"test_{metric}")
    return Figure("sweep_curves", f"test curves by {lay.color or 'run'}", [panel])


def posthoc_curves(runs: list[Run], lay: Layout) -> Figure | None:
    """Restricted and excluded loss per checkpoint (``grok measure``) of every run that
    has them, colored and pooled like the test curves."""
    measured = [r for r in runs if any("fourier/restricted_loss" in row for row in r.posthoc)]
    if not measured:
        return None
    panels = []
    for name, label in (("restricted_loss", "restricted (test)"), ("excluded_loss", "excluded")):
        panel = Panel(f"{label} loss, post hoc", "epoch", "loss (log)", logy=True)
        panel.series = _by_group(measured, lay, lambda r: r.posthoc, f"fourier/{name}")
        panels.append(panel)
    specs = sorted({str(r.posthoc[-1].get("keys")) for r in measured})
    title = f"progress measures per checkpoint (keys: {', '.join(specs)}; {len(measured)} runs)"
    return Figure("sweep_posthoc", title + _pooled_note(lay), panels)


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
    """One row per run, sorted by grok epoch; one test column per milestone metric among the
    runs (a modsub run's test_acc beside a sine run's test_mae), each run filling its own; a
    ``stopped`` column (the epoch train.stop_after_grok stopped it) where any run stopped. A
    run still training shows its latest evaluation."""
    metrics = list(dict.fromkeys(r.milestone_metric for r in runs)) or ["acc"]
    stops = any(r.summary.get("stopped") for r in runs)
    sources = any(r.source for r in runs)  # train.init_from: the run each started from

    def row(run: Run) -> list[Any]:
        final = run.summary.get("final") or (run.rows[-1] if run.rows else {})
        own = run.milestone_metric
        stopped = [(run.summary.get("stopped") or {}).get("epoch")] if stops else []
        return [
            run.label,
            run.status,
            *(run.value(k) for k in keys),
            *([_short(run.source)] if sources else []),
            run.summary.get("grok_epoch"),
            run.summary.get("memorization_epoch"),
            *stopped,
            *(final.get(f"test_{m}") if m == own else None for m in metrics),
            final.get("test_loss"),
        ]

    grok = len(keys) + 2 + sources
    rows = sorted((row(r) for r in runs), key=lambda x: (x[grok] is None, x[grok] or 0))
    columns = ["run", "status", *keys, *(["init_from"] if sources else [])]
    columns += ["grok_epoch", "memorization_epoch"]
    columns += ["stopped"] if stops else []
    columns += [f"test_{m}" for m in metrics] + ["test_loss"]
    return Table("sweep_table", "runs sorted by grok epoch", columns, rows)


def _short(source: str | None) -> str | None:
    """``/long/path/runs/quick@980`` -> ``quick@980``: the table's column stays narrow."""
    return source.rpartition("/")[2] if source else None


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


def sweep_figures(
    runs: list[Run], color_by: str | None = None, x: str | None = None
) -> tuple[list[Figure], list[Table]]:
    """The sweep's figures by its swept keys (seeds pooled, see grok/report/groups.py);
    ``color_by`` / ``x`` choose the key that colours the curves / spans the milestones."""
    lay = layout(runs, color_by, x)
    figures = [
        milestones_vs(runs, lay),
        overlaid_curves(runs, lay),
        posthoc_curves(runs, lay),
        pizza_vs(runs, lay),
        continued_vs(runs, lay),
        phase_diagram(runs, lay.keys),
    ]
    # a categorical key (method, task.op) gets its medians as a table, as the numeric
    # ones get them as a line
    first = lay.color
    labels = first and first not in SEED_KEYS and categorical(runs, first)
    tables = [group_table(runs, first)] if labels else []
    return [f for f in figures if f is not None], [*tables, run_table(runs, lay.keys)]

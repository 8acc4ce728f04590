"""Runs that started from another run (``train.init_from``): where each started and ended,
against the swept key. With ``+sweep=ungrok`` this is Varma et al. 2023's ungrokking
figure: test accuracy at the start (the grokked source) and after training on each train
fraction, collapsing below the critical size."""

from __future__ import annotations

from grok.report.groups import Layout, categorical, value_vs_key
from grok.report.spec import Figure, Panel
from grok.store.catalog import Run


def _first(run: Run, metric: str) -> float | None:
    rows = [r for r in run.rows if r.get(metric) is not None]
    return float(rows[0][metric]) if rows else None


def _last(run: Run, metric: str) -> float | None:
    final = (run.summary.get("final") or {}).get(metric)
    if final is not None:
        return float(final)
    rows = [r for r in run.rows if r.get(metric) is not None]
    return float(rows[-1][metric]) if rows else None


def continued_vs(runs: list[Run], lay: Layout) -> Figure | None:
    """Start and end of the milestone metric per numeric swept key, for a sweep whose runs
    start from another run's checkpoint."""
    continued = [r for r in runs if r.source]
    if not continued:
        return None
    metric = f"test_{continued[0].milestone_metric}"
    panels = []
    for key in lay.x:
        if categorical(continued, key):
            continue
        start, xs = value_vs_key(continued, key, lambda r: _first(r, metric), "start", "#1f77b4")
        end, _ = value_vs_key(continued, key, lambda r: _last(r, metric), "end", "#d62728")
        if not xs:
            continue
        epochs = sorted({int(r.summary.get("epochs") or 0) for r in continued})
        trained = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
        panel = Panel(
            f"{metric} at the start (the source's weights) and after {trained} epochs",
            key,
            metric,
            series=[*start, *end],
        )
        panel.xticks = xs if len(xs) <= 12 else None
        panels.append(panel)
    if not panels:
        return None
    sources = sorted({r.source.rpartition("/")[2] for r in continued if r.source})
    shown = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
    return Figure("sweep_continued", f"continued from {shown}: start and end", panels)

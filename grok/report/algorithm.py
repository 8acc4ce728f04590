"""Which algorithm each run learned, against the swept key: Zhong et al. 2023's pizza
measures (``measures.names: [..., pizza]``), each run's last measured value."""

from __future__ import annotations

from typing import Any

from grok.report.groups import Layout, categorical, value_vs_key
from grok.report.spec import Figure, Panel
from grok.store.catalog import Run

# (metric, axis label, what a high value means)
PIZZA = (
    ("pizza/distance_irrelevance", "distance irrelevance", "high: clock, low: pizza"),
    ("pizza/gradient_symmetricity", "gradient symmetricity", "high: pizza, low: clock"),
)


def last_value(run: Run, metric: str) -> float | None:
    """The run's last logged value of ``metric`` (measures log every ``measures.every``)."""
    for row in reversed(run.rows):
        if row.get(metric) is not None:
            return float(row[metric])
    return None


def _panel(runs: list[Run], key: str, metric: str, label: str, meaning: str) -> Panel | None:
    series, xs = value_vs_key(runs, key, lambda r: last_value(r, metric), label)
    if not series:
        return None
    panel = Panel(f"{label} vs {key} ({meaning})", key, label, series=series)
    panel.xticks = xs if len(xs) <= 12 else None
    return panel


def pizza_vs(runs: list[Run], lay: Layout) -> Figure | None:
    """One row of panels per numeric swept key (``--x``): the attention-rate transition of
    their Fig. 4 when the sweep is ``+sweep=attn_rate``."""
    panels: list[Any] = []
    for key in lay.x:
        if categorical(runs, key):
            continue
        panels += [p for m in PIZZA if (p := _panel(runs, key, *m)) is not None]
    if not panels:
        return None
    return Figure("sweep_pizza", "clock or pizza: Zhong et al. 2023's measures", panels)

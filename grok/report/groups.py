"""How a sweep's runs are arranged in its figures: seeds are replicates, the other swept keys
are what the figures are about.

A ``model.seed=0,1,2 optim.wd=1.0,2.0`` sweep asks how wd changes grokking; the seeds say how
sure that answer is. So by default the seeds are pooled (median and IQR over them), the colour
and the x axis of the milestones are the non-seed swept keys, and ``--color-by`` / ``--x``
(``grok report``) choose another key, a seed included.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grok.report.runs import as_number, independent_keys, swept_keys
from grok.report.spec import Series
from grok.store.catalog import Run

SEED_KEYS = ("model.seed", "task.data_seed")
# Categorical values get distinct hues (matplotlib's tab10), numeric ones a colormap position.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


class UnknownKey(ValueError):
    """A ``--color-by`` / ``--x`` key that no run has."""


@dataclass
class Layout:
    keys: list[str]  # the independent swept keys, seeds included
    factors: list[str]  # the swept keys the figures are about (not the replicate seeds)
    color: str | None  # the key that colours the curves
    x: list[str]  # one milestone panel per key

    def group_keys(self) -> list[str]:
        """Keys that tell curve groups apart; runs that agree on them are replicates."""
        return self.factors + (
            [self.color] if self.color and self.color not in self.factors else []
        )


def layout(runs: list[Run], color_by: str | None = None, x: str | None = None) -> Layout:
    keys = independent_keys(runs, swept_keys(runs))
    for flag, key in (("--color-by", color_by), ("--x", x)):
        if key and not any(key in r.flat or key in r.summary for r in runs):
            raise UnknownKey(
                f"{flag} {key}: no run has this key; the swept keys are {', '.join(keys) or 'none'}"
            )
    factors = [k for k in keys if k not in SEED_KEYS] or keys  # a seeds-only sweep: the seeds
    color = color_by or (factors[0] if factors else None)
    return Layout(keys, factors, color, [x] if x else factors)


def categorical(runs: list[Run], key: str) -> bool:
    """Seeds, names (method, task.op) and switches are labels, not quantities."""
    if key in SEED_KEYS:
        return True
    values = [r.value(key) for r in runs]
    return any(isinstance(v, bool) or not isinstance(as_number(v), float) for v in values)


def ordered_values(runs: list[Run], key: str) -> list[Any]:
    """``key``'s values: numeric ones sorted, labels in the order the sweep ran them."""
    values = list(dict.fromkeys(r.value(key) for r in runs))
    if categorical(runs, key):
        return values
    return sorted(values, key=lambda v: as_number(v))


def colors(runs: list[Run], key: str | None) -> Callable[[Run], float | str | None]:
    """Each run's colour by its value of ``key``: a position on the colormap for numbers (log
    scale when they span >= 50x), a palette hue for labels."""
    if not key:
        return lambda run: None
    values = ordered_values(runs, key)
    if categorical(runs, key):
        return lambda run: PALETTE[values.index(run.value(key)) % len(PALETTE)]
    numeric = [float(as_number(v)) for v in values]
    lo, hi = min(numeric), max(numeric)

    def position(run: Run) -> float | None:
        if hi == lo:
            return None
        v = float(as_number(run.value(key)))
        if lo > 0 and hi / lo >= 50:
            return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (v - lo) / (hi - lo)

    return position


def replicate_groups(runs: list[Run], keys: list[str]) -> list[list[Run]]:
    """Runs that agree on ``keys`` (they differ in seeds only), in the order of ``keys``'
    values (see ``ordered_values``)."""
    orders = {k: ordered_values(runs, k) for k in keys}
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(repr(run.value(k)) for k in keys), []).append(run)

    def rank(members: list[Run]) -> tuple:
        return tuple(orders[k].index(members[0].value(k)) for k in keys)

    return sorted(groups.values(), key=rank)


def group_label(run: Run, keys: list[str], size: int) -> str:
    label = ", ".join(f"{k}={run.value(k)}" for k in keys) or run.name
    return f"{label} (median of {size})" if size > 1 else label


def median_spread(values: list[float]) -> tuple[float, float, float]:
    """Median and inclusive quartiles (inside the data, even for 2 or 3 seeds)."""
    values = sorted(values)
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return statistics.median(values), q[0], q[2]


def median_curve(
    curves: list[tuple[list[float], list[float]]],
) -> tuple[list[float], list[float], tuple[list[float], list[float]] | None]:
    """Median and IQR per epoch of several runs' (epochs, values); no band for one run."""
    by_epoch: dict[float, list[float]] = {}
    for xs, ys in curves:
        for e, v in zip(xs, ys, strict=True):
            by_epoch.setdefault(e, []).append(v)
    epochs = sorted(by_epoch)
    stats = [median_spread(by_epoch[e]) for e in epochs]
    band = ([s[1] for s in stats], [s[2] for s in stats]) if len(curves) > 1 else None
    return epochs, [s[0] for s in stats], band


def value_vs_key(
    runs: list[Run],
    key: str,
    value: Callable[[Run], float | None],
    label: str,
    color: str | None = None,
) -> tuple[list[Series], list[float]]:
    """One value per run against a numeric swept key: the median line with its IQR band,
    and each run as a dot when there are replicates; and the key's values (ticks)."""
    groups: dict[float, list[float]] = {}
    for run in runs:
        x, y = as_number(run.value(key)), value(run)
        if y is not None and isinstance(x, int | float):
            groups.setdefault(float(x), []).append(float(y))
    xs = sorted(groups)
    if not xs:
        return [], []
    stats = [median_spread(groups[x]) for x in xs]
    n = sum(len(v) for v in groups.values())
    series = [
        Series(
            xs,
            [s[0] for s in stats],
            f"{label}: median, IQR ({n} runs)" if n > len(xs) else label,
            spread=([s[1] for s in stats], [s[2] for s in stats]) if n > len(xs) else None,
            marker=True,
            color=color,
        )
    ]
    if n > len(xs):  # replicates: show each run
        points = [(x, y) for x in xs for y in groups[x]]
        series.append(
            Series(
                [x for x, _ in points],
                [y for _, y in points],
                f"{label}: each run",
                kind="scatter",
                color="#888888",
            )
        )
    return series, xs

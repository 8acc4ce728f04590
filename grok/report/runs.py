"""Across runs: the keys that tell them apart, and columns of their rows (for reports)."""

from __future__ import annotations

import math
from typing import Any

from grok import keys as config_keys
from grok.store.catalog import Run, is_identity


def swept_keys(runs: list[Run]) -> list[str]:
    """Identity config keys (grok/keys.py: MEMBER or PACK) whose resolved values differ
    between the runs, in the order they were typed, then the table's order. Keys that are
    not part of a run's identity (logging, hardware, progress) never count; a key set
    through an interpolation or a preset counts like one typed on the command line."""
    seen: dict[str, set[str]] = {}
    for run in runs:
        for key, value in run.flat.items():
            seen.setdefault(key, set()).add(repr(value))
    present = [k for k, values in seen.items() if len(values) > 1 or _missing_somewhere(k, runs)]
    identity = [k for k in present if is_identity(k)]
    typed: dict[str, int] = {}
    for run in runs:
        for key in run.typed:
            typed.setdefault(key, len(typed))
    order = {k: i for i, k in enumerate(config_keys.KEYS)}
    return sorted(identity, key=lambda k: (typed.get(k, len(typed)), order.get(k, len(order))))


def independent_keys(runs: list[Run], keys: list[str]) -> list[str]:
    """``keys`` without those whose value follows from one kept before them: a preset or
    a ``method`` choice sets several keys at once (``method=muon`` sets ``optim.name``,
    ``optim.muon.*``), an interpolation derives one key from another (``task.name`` from
    ``task.op``). The choice tells the runs apart; the keys it sets only repeat it."""
    kept: list[str] = []
    for key in keys:
        if not any(_determines(runs, earlier, key) for earlier in kept):
            kept.append(key)
    return kept


def _determines(runs: list[Run], key: str, other: str) -> bool:
    """Whether runs that agree on ``key`` always agree on ``other``."""
    seen: dict[str, str] = {}
    for run in runs:
        value, follows = repr(run.value(key)), repr(run.value(other))
        if seen.setdefault(value, follows) != follows:
            return False
    return True


def _missing_somewhere(key: str, runs: list[Run]) -> bool:
    return any(key not in run.flat for run in runs)


def column(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of ``key`` in metrics-like rows, where it is a finite number."""
    pts = [(r["epoch"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
    pts = [(e, v) for e, v in pts if math.isfinite(v)]
    return [e for e, _ in pts], [v for _, v in pts]


def as_number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value

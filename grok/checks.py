"""The checks every config group's ``problems`` is made of, each returning problem lines
('key=value: what is allowed'; empty: fine).

One rule reads the same in every group (an integer is never a bool, a number is finite),
and a message names the dotted key and the value it got. ``text`` replaces the generated
"what is allowed" where a key says more (what ``null`` means, a unit). This module sits at
the bottom layer: the standard library and ``grok.errors`` only.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any


def problem(path: str, value: Any, text: str) -> str:
    """One problem line: ``path=value: text``."""
    return f"{path}={value!r}: {text}"


def is_integer(value: Any) -> bool:
    """An int that is not a bool (YAML's ``true`` is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any, finite: bool = True) -> bool:
    """An int or float, not a bool; finite unless ``finite=False``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return not finite or math.isfinite(value)


def integer(
    path: str, value: Any, low: int = 1, *, null: bool = False, text: str | None = None
) -> list[str]:
    """An integer >= ``low`` (``null``: None is allowed too)."""
    if (value is None and null) or (is_integer(value) and value >= low):
        return []
    return [problem(path, value, text or f"must be an integer >= {low}")]


def number(
    path: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    null: bool = False,
    finite: bool = True,
    text: str | None = None,
) -> list[str]:
    """A number (finite unless ``finite=False``) within the given bounds (``null``: None is
    allowed too). A NaN fails every bound."""
    if value is None and null:
        return []
    ok = is_number(value, finite) and (
        (gt is None or value > gt)
        and (ge is None or value >= ge)
        and (lt is None or value < lt)
        and (le is None or value <= le)
    )
    return [] if ok else [problem(path, value, text or _number_text(gt, ge, lt, le))]


def _number_text(gt: Any, ge: Any, lt: Any, le: Any) -> str:
    low = ("(", gt) if gt is not None else ("[", ge) if ge is not None else None
    high = (lt, ")") if lt is not None else (le, "]") if le is not None else None
    if low and high:
        return f"must be a number in {low[0]}{low[1]}, {high[0]}{high[1]}"
    if low:
        return f"must be a finite number {'>' if low[0] == '(' else '>='} {low[1]}"
    if high:
        return f"must be a finite number {'<' if high[1] == ')' else '<='} {high[0]}"
    return "must be a finite number"


def boolean(path: str, value: Any, *, null: bool = False, text: str | None = None) -> list[str]:
    """``true`` or ``false`` (``null``: None is allowed too)."""
    if isinstance(value, bool) or (value is None and null):
        return []
    return [problem(path, value, text or "must be true or false")]


def choice(
    path: str, value: Any, allowed: Collection[Any], *, text: str | None = None
) -> list[str]:
    """One of ``allowed`` (membership as ``in`` tests it: a dict's keys)."""
    if value in allowed:
        return []
    return [problem(path, value, text or f"allowed are {list(allowed)}")]


__all__ = ["boolean", "choice", "integer", "is_integer", "is_number", "number", "problem"]

"""Zipped sweep dimensions, as Hydra's design document proposes (facebookresearch/hydra
``docs/design/zipped_sweeps.md``; unimplemented there, asked for in #1918 and #2851).

``NAME=zip(KEY=choice(a,b,c),KEY2=[x,y,z],...)`` is one sweep dimension whose row i sets
element i of every member: ``KEY=a KEY2=x``, ``KEY=b KEY2=y``, ... Members are finite
discrete sweeps (``choice``, ``range``) or lists; all must have the same length. Every other
sweep dimension, and every further zip, is crossed with it as Hydra crosses dimensions, so
``lr_wd=zip(optim.lr=choice(1e-2,3e-3),optim.wd=[0.5,1.0]) model.seed=0,1`` is 4 jobs.

How it is lowered (the design's contract, by a shorter path): Hydra's override grammar has
no ``zip``, so ``launch.py`` moves each zip off the command line into
``+hydra.sweeper.zips.NAME='...'`` before Hydra parses it; a named sweep may write it under
``hydra.sweeper.params`` (the design's configured form). The grok sweeper then expands each
row into concrete overrides, so every job's ``hydra.overrides.task`` (and its run dir name,
config.yaml and ``load_sweep`` columns) says ``KEY=a KEY2=x``: a job reruns without the zip,
and launchers, packing and dry runs see ordinary jobs.
"""
# No `from __future__ import annotations` (see grok_launcher.py).

import re
from dataclasses import dataclass

ZIP = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=zip\((?P<body>.*)\)$", re.S)


class ZipError(ValueError):
    """A zip that cannot be expanded: the message names it and what is allowed."""


@dataclass(frozen=True)
class Zip:
    name: str
    keys: list[str]
    rows: list[list[str]]  # row i: the concrete overrides "KEY=value" it sets


def split_top(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _column(name: str, key: str, value: str) -> list[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    where = f"{name}=zip(...): member {key}={value}"
    if value.startswith("[") and value.endswith("]"):  # a list: its elements are the rows
        return split_top(value[1:-1])
    try:
        override = OverridesParser.create().parse_override(f"{key}={value}")
    except HydraException as e:
        raise ZipError(f"{where}: {str(e).splitlines()[0]}") from None
    if not (override.is_sweep_override() and override.is_discrete_sweep()):
        raise ZipError(f"{where}: a member is a list [a,b] or a choice(...) / range(...)")
    if getattr(override.value(), "shuffle", False):
        raise ZipError(f"{where}: shuffling one member would break the rows; shuffle none")
    return list(override.sweep_string_iterator())


def parse_zip(name: str, expression: str) -> Zip:
    """``expression`` is ``zip(KEY=...,KEY=...)``; a ZipError names what is wrong."""
    match = ZIP.match(f"{name}={expression.strip()}")
    if match is None:
        raise ZipError(f"{name}={expression}: a zip is NAME=zip(KEY=choice(...),KEY=[...])")
    columns: dict[str, list[str]] = {}
    for member in split_top(match["body"]):
        key, sep, value = member.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ZipError(f"{name}=zip(...): member {member!r} is not KEY=VALUES")
        if key.lstrip("+~") in {k.lstrip("+~") for k in columns}:
            raise ZipError(f"{name}=zip(...): {key} is zipped twice")
        columns[key] = _column(name, key, value.strip())
    if len(columns) < 2:
        raise ZipError(f"{name}=zip(...): needs at least two members, got {list(columns)}")
    lengths = {key: len(values) for key, values in columns.items()}
    if len(set(lengths.values())) != 1:
        said = ", ".join(f"{k} has {n} value{'s' * (n != 1)}" for k, n in lengths.items())
        raise ZipError(f"{name}=zip(...): members differ in length: {said}; rows need one each")
    n = next(iter(lengths.values()))
    rows = [[f"{k}={values[i]}" for k, values in columns.items()] for i in range(n)]
    return Zip(name, [k.lstrip("+~") for k in columns], rows)


def lower_command_line(argv: list[str]) -> list[str]:
    """``NAME=zip(...)`` arguments moved to ``+hydra.sweeper.zips.NAME='...'`` (checked
    here, so a bad zip is refused before Hydra starts)."""
    out = []
    for arg in argv:
        match = ZIP.match(arg)
        if match is None:
            out.append(arg)
            continue
        parse_zip(match["name"], arg.split("=", 1)[1])
        if "-m" not in argv and "--multirun" not in argv:
            raise ZipError(f"{match['name']}=zip(...): a zip is a sweep; add -m")
        quoted = arg.split("=", 1)[1].replace("\\", "\\\\").replace("'", "\\'")
        out.append(f"+hydra.sweeper.zips.{match['name']}='{quoted}'")
    return out


def member_overrides(argv: list[str]) -> list[str]:
    """Every concrete override the command line's zips set (for the unknown-key check)."""
    out = []
    for arg in argv:
        if match := ZIP.match(arg):
            out += [o for row in parse_zip(match["name"], arg.split("=", 1)[1]).rows for o in row]
    return out


def check_against(zips: list[Zip], arguments: list[str]) -> None:
    """A zipped key may not also be set or swept elsewhere, and a zip's name is not a key."""
    from grok.keys import KEYS

    given = {a.split("=", 1)[0].lstrip("+~") for a in arguments if "=" in a}
    seen: dict[str, str] = {}
    for z in zips:
        if z.name in given or any(k == z.name or k.startswith(z.name + ".") for k in KEYS):
            raise ZipError(f"{z.name}=zip(...): {z.name} is a config key; name the zip otherwise")
        for key in z.keys:
            if key in given:
                raise ZipError(f"{z.name}=zip(...): {key} is zipped and also set as {key}=...")
            if key in seen:
                raise ZipError(f"{key} is zipped by both {seen[key]} and {z.name}")
            seen[key] = z.name

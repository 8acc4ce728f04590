"""grok's import graph: one-way layers, no cycles, and no hidden imports.

Data flows config -> task data -> model -> trainer -> measures -> sinks; the packages are
stacked so that a module imports only from its own layer or below (``TYPE_CHECKING`` and
function-local imports count). A new module must be placed in ``LAYERS`` (the test names
it), so the order is kept by construction, not by review.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top. A module belongs to the longest prefix listed.
LAYERS: list[tuple[str, ...]] = [
    ("grok.errors", "grok.keys", "grok.checks", "grok.defaults"),
    ("grok.task", "grok.model", "grok.optim", "grok.hardware"),
    ("grok.store",),
    ("grok.measures", "grok.logger"),
    ("grok.train",),
    ("grok.config", "grok.packing"),
    ("grok.run", "grok.posthoc", "grok.results", "grok.report", "grok.closing", "grok.released"),
    ("grok.cli", "grok.overrides", "grok", "hydra_plugins", "launch"),
]
# Modules whose function-local imports need no reason: Hydra imports every plugin module at
# start-up, and launch.py imports grok only once Hydra has parsed the command line.
FREE_LOCAL = ("hydra_plugins", "launch")
IMPORT_LINE = re.compile(r"^(from \S+ import |import |\)$|\w+,$)")  # a line of an import block


def layer(module: str) -> int:
    best, length = None, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = i, len(p)
    assert best is not None, f"{module} is in no layer: place it in tests/test_layers.py LAYERS"
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> list[Path]:
    files = [*(ROOT / "grok").rglob("*.py"), *(ROOT / "hydra_plugins").rglob("*.py")]
    return sorted([*files, ROOT / "launch.py"])


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported grok module, line, inside a function) for every grok import in ``path``."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int, bool]] = []

    def target(base: str, name: str) -> str:
        full = f"{base}.{name}"
        as_path = ROOT / full.replace(".", "/")
        return full if as_path.with_suffix(".py").exists() or as_path.is_dir() else base

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                out.extend(
                    (a.name, child.lineno, local) for a in child.names if a.name[:4] == "grok"
                )
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                if base.split(".")[0] == "grok":
                    out.extend((target(base, a.name), child.lineno, local) for a in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return out


def graph() -> dict[str, list[tuple[str, int, bool]]]:
    return {module_name(p): imports(p) for p in sources()}


def test_imports_only_go_down_the_layers():
    upward = [
        f"{m}:{line} imports {t} (layer {layer(m) + 1} -> {layer(t) + 1})"
        for m, edges in graph().items()
        for t, line, _ in edges
        if layer(t) > layer(m)
    ]
    assert upward == []


def test_the_import_graph_has_no_cycles():
    edges = defaultdict(set)
    for m, targets in graph().items():
        edges[m] |= {t for t, _, _ in targets if t != m}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node, [node])
    assert cycles == []


def test_a_function_local_import_says_why_it_is_deferred():
    """Local imports hide layering; the ones left defer a heavy library (torch,
    TransformerLens, devinterp) or keep the command line's start-up fast, and say so in a
    ``# deferred:`` comment above them."""
    silent = []
    for path in sources():
        module = module_name(path)
        if module.startswith(FREE_LOCAL):
            continue
        lines = path.read_text().split("\n")
        for _, line, local in imports(path):
            if not local:
                continue
            above = line - 2  # the line before the import (0-based)
            while above >= 0 and IMPORT_LINE.match(lines[above].strip()):
                above -= 1
            if not lines[above].strip().startswith("# deferred:"):
                silent.append(f"{module}:{line}")
    assert silent == []


def test_every_module_is_placed():
    for path in sources():
        layer(module_name(path))

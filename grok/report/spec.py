"""Figures as data: built once, rendered to PNG (matplotlib) and HTML (plotly) alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Series:
    x: list[Any]
    y: list[Any]
    label: str = ""  # names the series (plotly hover)
    kind: str = "line"  # line | scatter | bar
    # a position on the colormap (0..1), e.g. a swept value, or a fixed colour ("#1f77b4")
    color: float | str | None = None
    text: list[str] | None = None  # point labels (scatter)
    spread: tuple[list[float], list[float]] | None = None  # (low, high) band around y
    marker: bool = False  # a line with a marker at each point (few points, e.g. per swept value)
    dash: bool = False
    legend: str | None = None  # its legend entry when several series share one (default: label)

    @property
    def entry(self) -> str:
        return self.label if self.legend is None else self.legend


@dataclass
class Heatmap:
    z: list[list[float]]
    x: list[Any]
    y: list[Any]
    colorbar: str = ""


@dataclass
class Panel:
    title: str
    xlabel: str = ""
    ylabel: str = ""
    series: list[Series] = field(default_factory=list)
    heatmap: Heatmap | None = None
    logy: bool = False
    logx: bool = False
    spans: list[tuple[float, float, str]] = field(default_factory=list)  # shaded phases
    markers: list[tuple[float, str]] = field(default_factory=list)  # vertical lines (milestones)
    equal_aspect: bool = False
    categorical_x: bool = False  # x values are labels (seeds, methods): one tick each, in order
    xticks: list[Any] | None = None  # ticks at these values only (the swept values)
    # name -> (ticks, labels) for heatmap axes whose positions are tokens ("a", "b", "=")
    ticklabels: dict[str, tuple[list[Any], list[str]]] = field(default_factory=dict)


@dataclass
class Figure:
    name: str  # file stem
    title: str
    panels: list[Panel]

    def traces(self) -> int:
        return sum(len(p.series) + (p.heatmap is not None) for p in self.panels)


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]

    def markdown(self) -> str:
        def cell(v: Any) -> str:
            if isinstance(v, float):
                return f"{v:.4g}"
            return "" if v is None else str(v)

        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


PHASE_COLORS = {"memorization": "#f2c14e", "circuit formation": "#5fad56", "clean-up": "#4d9de0"}


def phase_spans(summary: dict[str, Any], last_epoch: float) -> list[tuple[float, float, str]]:
    """Shaded intervals for the phases in summary.json (grok/measures/phases.py)."""
    ph = summary.get("phases") or {}
    mem = ph.get("memorization_end")
    circuit = ph.get("circuit_formation_end") or ph.get("generalization")
    cleanup = ph.get("cleanup_end")
    spans = []
    if mem is not None:
        spans.append((0.0, float(mem), "memorization"))
        if circuit is not None and circuit > mem:
            spans.append((float(mem), float(circuit), "circuit formation"))
            end = cleanup if cleanup is not None else last_epoch
            if end > circuit:
                spans.append((float(circuit), float(end), "clean-up"))
    return spans


MARKER_STYLES = {"memorization": ("#7f7f7f", ":"), "grok": ("#000000", "--")}


def milestone_markers(summary: dict[str, Any]) -> list[tuple[float, str]]:
    """Vertical lines at the memorization and grok epochs of summary.json."""
    return [
        (float(summary[f"{name}_epoch"]), f"{name} (epoch {summary[f'{name}_epoch']})")
        for name in MARKER_STYLES
        if summary.get(f"{name}_epoch") is not None
    ]

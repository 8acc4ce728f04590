"""Render figure specs: PNG files with matplotlib, one self-contained HTML with plotly."""

from __future__ import annotations

import html
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from grok.report.spec import MARKER_STYLES, PHASE_COLORS, Figure, Panel, Table

CMAP = "viridis"
# Series without a colour of their own get one by label, the same in every panel of a figure
# and in PNG and HTML alike (train is always the first colour, test the second).
CYCLE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
# Figures are drawn on matplotlib's Figure directly (no pyplot): importing grok never switches
# the backend of a notebook's own plots, and nothing needs a display.


def series_colors(fig: Figure) -> dict[str, str]:
    """Label -> colour for the series without one, in order of first appearance."""
    labels = [s.entry for p in fig.panels for s in p.series if s.color is None]
    return {label: CYCLE[i % len(CYCLE)] for i, label in enumerate(dict.fromkeys(labels))}


def _color(value: float | str | None, label: str, by_label: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if value is not None:
        # the colormap's last 15% (light yellow) vanishes on white
        return matplotlib.colors.to_hex(matplotlib.colormaps[CMAP](0.85 * value))
    return by_label.get(label, CYCLE[0])


def _xs(panel: Panel, xs: list) -> list:
    """Categorical x values as positions in the panel's own order (matplotlib would order
    them as they first appear)."""
    if panel.categorical_x and panel.xticks:
        return [panel.xticks.index(str(x)) for x in xs]
    return xs


def _legend_entries(panel: Panel) -> list[str]:
    labels = [s.entry for s in panel.series if s.entry]
    spans = [phase_entry(label) for *_, label in panel.spans]
    return list(dict.fromkeys(labels + spans + [label for _, label in panel.markers]))


def phase_entry(label: str) -> str:
    """A shaded phase's legend entry ("memorization phase": the milestone line beside it is
    "memorization (epoch 200)")."""
    return f"{label} phase"


def _marker_style(label: str) -> tuple[str, str]:
    """(colour, matplotlib line style) of a milestone line ("grok (epoch 720)")."""
    return MARKER_STYLES.get(label.split(" ", 1)[0], ("#000000", "--"))


def _annotate(ax: Axes, xs: list, ys: list, texts: list[str]) -> None:
    """Point labels pushed outward from the points' centre: on a circle of residues they
    sit outside the ring instead of on top of each other."""
    if not texts:
        return
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    for xi, yi, t in zip(xs, ys, texts, strict=False):
        dx, dy = xi - cx, yi - cy
        norm = (dx * dx + dy * dy) ** 0.5 or 1.0
        offset = (7 * dx / norm, 7 * dy / norm)
        ax.annotate(
            t, (xi, yi), xytext=offset, textcoords="offset points", fontsize=6, alpha=0.8,
            ha="center", va="center",
        )  # fmt: skip


def _mpl_panel(figure: MplFigure, ax: Axes, panel: Panel, by_label: dict[str, str]) -> None:
    for x0, x1, label in panel.spans:
        color = PHASE_COLORS.get(label, "#ddd")
        ax.axvspan(x0, x1, color=color, alpha=0.18, label=phase_entry(label), lw=0)
    for x, label in panel.markers:
        color, style = _marker_style(label)
        ax.axvline(x, color=color, ls=style, lw=1.0, label=label)
    if panel.heatmap is not None:
        h = panel.heatmap
        mesh = ax.pcolormesh(h.x, h.y, h.z, cmap=CMAP, shading="auto")
        figure.colorbar(mesh, ax=ax, label=h.colorbar)
    for s in panel.series:
        color = _color(s.color, s.entry, by_label)
        label = s.entry or None
        xs = _xs(panel, s.x)
        if s.kind == "bar":
            ax.bar(xs, s.y, label=label, color=color)
        elif s.kind == "scatter":
            ax.scatter(xs, s.y, s=14, label=label, color=color, alpha=0.8)
            _annotate(ax, xs, s.y, s.text or [])
        else:
            marker = "o" if s.marker or len(s.x) == 1 else None
            style = "--" if s.dash else "-"
            ax.plot(xs, s.y, style, label=label, color=color, lw=1.4, marker=marker, ms=4)
        if s.spread is not None:
            ax.fill_between(xs, s.spread[0], s.spread[1], alpha=0.2, color=color, lw=0)
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if panel.logy:
        ax.set_yscale("log")
    if panel.logx:
        ax.set_xscale("log")
    if panel.xticks is not None:
        positions = range(len(panel.xticks)) if panel.categorical_x else panel.xticks
        ax.set_xticks(list(positions), [_tick(v) for v in panel.xticks], minor=False)
        ax.set_xticks([], minor=True)
        if panel.categorical_x:
            ax.set_xlim(-0.5, len(panel.xticks) - 0.5)
            if max(len(str(v)) for v in panel.xticks) > 6:
                ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for axis, (ticks, labels) in panel.ticklabels.items():
        getattr(ax, f"set_{axis}ticks")(ticks, labels)
    if panel.equal_aspect:
        ax.set_aspect("equal", adjustable="datalim")


def _tick(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _mpl_legends(figure: MplFigure, axes: list[Axes], panels: list[Panel]) -> None:
    """Legends outside the data: one for the figure when every panel shows the first
    panel's entries or some of them (train / test; colours follow labels across panels),
    else one beside each panel; none for a single entry (the title says it) nor past 12
    entries (the title names the colour key)."""

    def handles(ax: Axes) -> dict[str, Any]:
        h, labels = ax.get_legend_handles_labels()
        return dict(zip(labels, h, strict=True))  # de-duplicated, first handle per label

    entries = [handles(ax) for ax in axes]
    shared = len(axes) > 1 and all(set(e) <= set(entries[0]) for e in entries)
    if shared and 1 < len(entries[0]) <= 12:
        figure.legend(
            list(entries[0].values()), list(entries[0]), loc="outside right center", fontsize=8
        )
        return
    for ax, found in zip(axes, entries, strict=True):
        if 1 < len(found) <= 12:
            ax.legend(
                list(found.values()),
                list(found),
                fontsize=7,
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                borderaxespad=0.0,
            )


def draw_png(fig: Figure) -> MplFigure:
    """The matplotlib figure ``save_png`` writes (tests read its legends and axes)."""
    n = len(fig.panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    legends = any(len(_legend_entries(p)) > 1 for p in fig.panels)
    width = 4.6 + (1.9 if legends else 0.0)
    figure = MplFigure(figsize=(width * cols, 3.6 * rows + 0.4), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    by_label = series_colors(fig)
    used = list(axes.flat)[:n]
    for ax, panel in zip(used, fig.panels, strict=True):
        _mpl_panel(figure, ax, panel, by_label)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    _mpl_legends(figure, used, fig.panels)
    figure.suptitle(textwrap.fill(fig.title, int(10 * width * cols)), fontsize=12)
    return figure


def save_png(fig: Figure, out_dir: Path) -> Path:
    path = out_dir / f"{fig.name}.png"
    draw_png(fig).savefig(path, dpi=110)
    return path


def plotly_figure(fig: Figure):  # -> plotly.graph_objects.Figure
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n = len(fig.panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    out = make_subplots(rows=rows, cols=cols, subplot_titles=[p.title for p in fig.panels])
    by_label = series_colors(fig)
    shown: set[str] = set()  # one legend entry per label for the whole figure

    def legend(label: str, entry: str | None = None) -> dict[str, Any]:
        """Trace name ``label``; one legend entry per ``entry`` (default: the label)."""
        entry = label if entry is None else entry
        first = bool(entry) and entry not in shown
        shown.add(entry)
        hover = f"{html.escape(label)}<br>%{{x}}, %{{y}}<extra></extra>"
        name = entry if first else label
        return {"name": name, "legendgroup": entry, "showlegend": first, "hovertemplate": hover}

    for i, panel in enumerate(fig.panels):
        r, c = i // cols + 1, i % cols + 1
        if panel.heatmap is not None:
            h = panel.heatmap
            bar = {"title": h.colorbar, "len": 1.0 / rows, "y": 1 - (r - 0.5) / rows}
            bar["x"] = c / cols + 0.01
            out.add_trace(go.Heatmap(z=h.z, x=h.x, y=h.y, colorscale=CMAP, colorbar=bar), r, c)
        for s in panel.series:
            color = _color(s.color, s.entry, by_label)
            names = legend(s.label, s.legend)
            if s.kind == "bar":
                out.add_trace(go.Bar(x=s.x, y=s.y, marker={"color": color}, **names), r, c)
                continue
            if s.spread is not None:
                band_x = list(s.x) + list(s.x)[::-1]
                band_y = list(s.spread[1]) + list(s.spread[0])[::-1]
                band = go.Scatter(
                    x=band_x, y=band_y, fill="toself", fillcolor=color, opacity=0.2,
                    line={"width": 0}, hoverinfo="skip", showlegend=False, legendgroup=s.entry,
                )  # fmt: skip
                out.add_trace(band, r, c)
            if s.kind == "scatter":
                trace = go.Scatter(
                    x=s.x, y=s.y, mode="markers", text=s.text, marker={"color": color}, **names,
                )  # fmt: skip
            else:
                mode = "lines+markers" if s.marker or len(s.x) == 1 else "lines"
                line = {"color": color, "dash": "dash" if s.dash else "solid"}
                trace = go.Scatter(x=s.x, y=s.y, mode=mode, line=line, **names)
            out.add_trace(trace, r, c)
        for x0, x1, label in panel.spans:
            out.add_vrect(
                x0=x0,
                x1=x1,
                fillcolor=PHASE_COLORS.get(label, "#ddd"),
                opacity=0.18,
                line_width=0,
                row=r,
                col=c,
            )
            entry = phase_entry(label)
            if entry not in shown:  # shading has no legend entry of its own
                swatch = {"color": PHASE_COLORS.get(label, "#ddd"), "symbol": "square", "size": 12}
                out.add_trace(
                    go.Scatter(x=[None], y=[None], mode="markers", marker=swatch, **legend(entry)),
                    r,
                    c,
                )
        for x, label in panel.markers:
            color, style = _marker_style(label)
            dash = "dot" if style == ":" else "dash"
            out.add_vline(x=x, line_dash=dash, line_color=color, line_width=1, row=r, col=c)
            if label not in shown:
                line = {"color": color, "dash": dash}
                out.add_trace(
                    go.Scatter(x=[None], y=[None], mode="lines", line=line, **legend(label)), r, c
                )
        _plotly_axes(out, panel, r, c)
    out.update_layout(title=fig.title, height=380 * rows, showlegend=True, template="plotly_white")
    return out


def _plotly_axes(out: Any, panel: Panel, r: int, c: int) -> None:
    x: dict[str, Any] = {"title_text": panel.xlabel, "type": "log" if panel.logx else None}
    if panel.categorical_x:
        x.update(type="category", categoryorder="array", categoryarray=panel.xticks)
    elif panel.xticks is not None:
        x.update(tickvals=panel.xticks, ticktext=[_tick(v) for v in panel.xticks])
    y: dict[str, Any] = {"title_text": panel.ylabel, "type": "log" if panel.logy else None}
    for axis, (ticks, labels) in panel.ticklabels.items():
        (x if axis == "x" else y).update(tickvals=ticks, ticktext=labels)
    for axis in (x, y):
        if axis["type"] == "log":
            axis["exponentformat"] = "power"  # 10^-4, not "100μ" on a loss axis
    out.update_xaxes(**x, row=r, col=c)
    out.update_yaxes(**y, row=r, col=c)


def save_html(title: str, figures: list[Figure], tables: list[Table], path: Path) -> Path:
    """One file, plotly.js inlined once: opens offline, no network."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:24px} table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    first = True
    for fig in figures:
        div = plotly_figure(fig).to_html(
            full_html=False, include_plotlyjs=first, div_id=f"fig-{fig.name}"
        )
        parts.append(f"<section class='grok-figure' id='{fig.name}'>{div}</section>")
        first = False
    for table in tables:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
            for row in table.rows
        )
        parts.append(
            f"<section class='grok-table' id='{table.name}'><h2>{html.escape(table.title)}</h2>"
            f"<table><tr>{head}</tr>{body}</table></section>"
        )
    parts.append("</body></html>")
    path.write_text("\n".join(parts))
    return path


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)

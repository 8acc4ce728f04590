"""Render figure specs: PNG files with matplotlib, one self-contained HTML with plotly."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from grok.report.spec import PHASE_COLORS, Figure, Panel, Table

CMAP = "viridis"
# Figures are drawn on matplotlib's Figure directly (no pyplot): importing grok never switches
# the backend of a notebook's own plots, and nothing needs a display.


def _mpl_panel(figure: MplFigure, ax: Axes, panel: Panel) -> None:
    cmap = matplotlib.colormaps[CMAP]
    for x0, x1, label in panel.spans:
        ax.axvspan(x0, x1, color=PHASE_COLORS.get(label, "#ddd"), alpha=0.18, label=label, lw=0)
    if panel.heatmap is not None:
        h = panel.heatmap
        mesh = ax.pcolormesh(h.x, h.y, h.z, cmap=CMAP, shading="auto")
        figure.colorbar(mesh, ax=ax, label=h.colorbar)
    for s in panel.series:
        color = cmap(s.color) if s.color is not None else None
        if s.kind == "bar":
            ax.bar(s.x, s.y, label=s.label or None, color=color)
        elif s.kind == "scatter":
            ax.scatter(s.x, s.y, s=14, label=s.label or None, color=color)
            for xi, yi, t in zip(s.x, s.y, s.text or [], strict=False):
                ax.annotate(t, (xi, yi), fontsize=6, alpha=0.7)
        else:
            ax.plot(s.x, s.y, label=s.label or None, color=color, lw=1.4)
        if s.spread is not None:
            ax.fill_between(s.x, s.spread[0], s.spread[1], alpha=0.2, color=color)
    if any(s.x and isinstance(s.x[0], str) for s in panel.series):  # categories (methods)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if panel.logy:
        ax.set_yscale("log")
    if panel.logx:
        ax.set_xscale("log")
    if panel.equal_aspect:
        ax.set_aspect("equal", adjustable="datalim")
    _handles, labels = ax.get_legend_handles_labels()
    if labels and len(labels) <= 12:
        ax.legend(fontsize=7, loc="best")


def save_png(fig: Figure, out_dir: Path) -> Path:
    n = len(fig.panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    figure = MplFigure(figsize=(4.6 * cols, 3.6 * rows))
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax, panel in zip(axes.flat, fig.panels, strict=False):
        _mpl_panel(figure, ax, panel)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    figure.suptitle(fig.title, fontsize=12)
    figure.tight_layout()
    path = out_dir / f"{fig.name}.png"
    figure.savefig(path, dpi=110)
    return path


def _plotly(fig: Figure):  # -> plotly.graph_objects.Figure
    import plotly.graph_objects as go
    from plotly.colors import sample_colorscale
    from plotly.subplots import make_subplots

    n = len(fig.panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    out = make_subplots(rows=rows, cols=cols, subplot_titles=[p.title for p in fig.panels])
    for i, panel in enumerate(fig.panels):
        r, c = i // cols + 1, i % cols + 1
        if panel.heatmap is not None:
            h = panel.heatmap
            out.add_trace(
                go.Heatmap(z=h.z, x=h.x, y=h.y, colorscale=CMAP, colorbar={"title": h.colorbar}),
                r,
                c,
            )
        for s in panel.series:
            color = sample_colorscale(CMAP, [s.color])[0] if s.color is not None else None
            style = {"color": color} if color else {}
            if s.kind == "bar":
                out.add_trace(go.Bar(x=s.x, y=s.y, name=s.label, marker=style), r, c)
            elif s.kind == "scatter":
                out.add_trace(
                    go.Scatter(
                        x=s.x, y=s.y, mode="markers", name=s.label, text=s.text, marker=style
                    ),
                    r,
                    c,
                )
            else:
                out.add_trace(
                    go.Scatter(x=s.x, y=s.y, mode="lines", name=s.label, line=style), r, c
                )
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
        out.update_xaxes(title_text=panel.xlabel, type="log" if panel.logx else None, row=r, col=c)
        out.update_yaxes(title_text=panel.ylabel, type="log" if panel.logy else None, row=r, col=c)
    out.update_layout(title=fig.title, height=380 * rows, showlegend=True, template="plotly_white")
    return out


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
        div = _plotly(fig).to_html(
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

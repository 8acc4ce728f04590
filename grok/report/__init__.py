"""``grok report`` and ``grok ls``: figures and tables from the local run dirs alone."""

from __future__ import annotations

from pathlib import Path

from grok.report.render import save_html, save_png
from grok.report.run_figures import run_figures
from grok.report.runs import independent_keys, swept_keys
from grok.report.sweep import run_table, sweep_figures
from grok.report.trials import trials_report
from grok.store.catalog import Run, find_runs
from grok.store.files import dumps as json_dumps


def report(
    path: Path,
    out: Path | None = None,
    png: bool = True,
    color_by: str | None = None,
    x: str | None = None,
) -> dict[str, list[Path]]:
    """Write PNGs and one self-contained HTML for a run dir or a sweep dir; returns the files.
    ``color_by`` / ``x``: the swept key that colours a sweep's curves / spans its milestones
    (default: the first swept key that is not a seed; seeds are pooled as replicates)."""
    path = Path(path)
    runs = find_runs(path)
    if not runs:
        raise SystemExit(f"grok report: no run dirs (summary.json / metrics.jsonl) under {path}")
    out = Path(out) if out else path / "report"
    out.mkdir(parents=True, exist_ok=True)
    if len(runs) == 1:
        figures, tables, title = run_figures(runs[0]), [], f"grok report: {runs[0].identity}"
    else:
        figures, tables = sweep_figures(runs, color_by, x)
        title = f"grok sweep report: {path.name} ({len(runs)} runs)"
    study_figures, study_tables = trials_report(path)  # an Optuna search (optuna.db)
    figures, tables = [*figures, *study_figures], [*tables, *study_tables]
    pngs = [save_png(f, out) for f in figures] if png else []
    for table in tables:
        (out / f"{table.name}.md").write_text(table.markdown())
    html = save_html(title, figures, tables, out / "report.html")
    return {"png": pngs, "html": [html], "tables": [out / f"{t.name}.md" for t in tables]}


DEFAULT_ROOTS = (Path("outputs"), Path("multirun"))  # where launch.py writes runs and sweeps


def listing(path: Path | list[Path], fmt: str = "table") -> str:
    """The runs under ``path`` (one dir or several) as a table (markdown), CSV or JSON;
    damaged run dirs are listed as such, with what is wrong (a ``damage`` column in CSV and
    JSON). A ``method`` column whenever a run used one (``method=grokfast_ema``)."""
    roots = [Path(p) for p in (path if isinstance(path, list) else [path])]
    runs = [run for root in roots for run in find_runs(root)]
    if not runs:
        where = " or ".join(map(str, roots))
        return f"no runs under {where}\n" if fmt == "table" else ("[]\n" if fmt == "json" else "")
    if len({r.name for r in runs}) < len(runs):  # clock-time names repeat: name by path
        for run in runs:
            run.label = str(run.dir)
    for run in runs:
        run.rows  # noqa: B018 - reading the metrics is what finds a damaged file
    keys = independent_keys(runs, swept_keys(runs)) if len(runs) > 1 else []
    if "method" not in keys and any(r.flat.get("method") not in (None, "baseline") for r in runs):
        keys = ["method", *keys]
    table = run_table(runs, keys)
    if fmt != "table":
        damage = {r.label: r.damage for r in runs}
        records = [
            {**dict(zip(table.columns, row, strict=True)), "damage": damage.get(row[0])}
            for row in table.rows
        ]
        return _as_csv(records) if fmt == "csv" else json_dumps(records, indent=1) + "\n"
    text = table.markdown()
    damaged = [r for r in runs if r.damage]
    if damaged:
        text += "\ndamaged run dirs (the rest is read as far as it goes):\n"
        text += "".join(f"  {r.dir}: {r.damage}\n" for r in damaged)
    return text


def _as_csv(records: list[dict]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(
            {k: json_dumps(v) if isinstance(v, list | dict) else v for k, v in record.items()}
        )
    return out.getvalue()


__all__ = ["Run", "find_runs", "listing", "report"]

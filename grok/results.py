"""Sweeps as notebook tables: ``grok.load_sweep`` and ``grok.load_sweep_metrics`` (one run:
``grok.load_run``, the run catalog's ``grok.store.catalog.load_run``).

Every seed is a notebook: train, then load a model, call ``run_with_cache`` and plot. These
read only local run dirs (no W&B, no network), through the same readers ``grok report``
uses (``grok.store.catalog``): a run still training shows what it has
written so far; a damaged file is named in a warning and the rest is read.

    run = grok.load_run("outputs/modsub/2026-11-23/10-00-00")
    run.metrics                         # DataFrame: one row per evaluation, measures as columns
    model = run.model()                 # the newest checkpoint, TransformerLens-compatible
    logits, cache = model.run_with_cache(run.train.x)
    sweep = grok.load_sweep("multirun/modsub/2026-11-23/10-00-00")   # one row per run
    curves = grok.load_sweep_metrics("multirun/...", metrics=["test_acc"])  # long format
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from grok.report.runs import swept_keys
from grok.store.catalog import Run, find_runs


def _runs(path: str | Path, read_metrics: bool = True) -> list[Run]:
    runs = find_runs(Path(path))
    if not runs:
        raise FileNotFoundError(f"no run dirs under {path}")
    if len({r.name for r in runs}) < len(runs):  # several sweeps under path: name by path
        for run in runs:
            run.label = str(run.dir.relative_to(path))
    for run in runs:
        if read_metrics:
            run.rows  # noqa: B018 - reading the metrics finds a damaged file
        if run.damage:
            warnings.warn(f"{run.damage}; the run is marked damaged", stacklevel=3)
    return runs


def load_sweep(path: str | Path) -> Any:
    """One row per run: its dir, status, every swept key as its own column, the milestones,
    phases and final metrics (a pandas DataFrame indexed by run name). Reads summaries and
    configs only (fast); a damaged metrics file shows in ``load_sweep_metrics`` and
    ``grok ls``."""
    import pandas as pd

    runs = _runs(path, read_metrics=False)
    keys = swept_keys(runs)
    records = []
    for run in runs:
        s = run.summary
        record: dict[str, Any] = {"run": run.label, "path": str(run.dir), "status": run.status}
        record |= {key: run.value(key) for key in keys}
        record |= {
            "grok_epoch": s.get("grok_epoch"),
            "memorization_epoch": s.get("memorization_epoch"),
            "epochs": s.get("epochs"),
            "stopped": (s.get("stopped") or {}).get("epoch"),  # train.stop_after_grok
        }
        record |= {f"phases.{k}": v for k, v in (s.get("phases") or {}).items()}
        record |= {f"final.{k}": v for k, v in (s.get("final") or {}).items()}
        record["wall_seconds"] = s.get("wall_seconds")
        if run.source:  # train.init_from: PATH@EPOCH of the checkpoint it started from
            record["init_from"] = run.source
        records.append(record)
    frame = pd.DataFrame.from_records(records).set_index("run", drop=False).rename_axis(None)
    frame.attrs["swept"] = keys
    return frame


def load_sweep_metrics(path: str | Path, metrics: list[str] | None = None) -> Any:
    """Long format for curve plots: one row per (run, epoch, metric) with ``value``, and the
    swept keys as columns (``hue="optim.wd"``). Numeric metrics only (lists stay in
    ``load_run(...).metrics``); ``metrics`` picks some."""
    import pandas as pd

    runs = _runs(path)
    keys = swept_keys(runs)
    wanted = set(metrics) if metrics is not None else None
    run_col: list[str] = []
    epoch_col: list[int] = []
    metric_col: list[str] = []
    value_col: list[float] = []
    for run in runs:
        for row in run.rows:
            epoch = row.get("epoch")
            for name, value in row.items():
                if name in ("epoch", "wall_seconds") or (wanted and name not in wanted):
                    continue
                if (
                    isinstance(value, int | float) and not isinstance(value, bool)
                ) or value is None:
                    run_col.append(run.label)
                    epoch_col.append(epoch)
                    metric_col.append(name)
                    value_col.append(float("nan") if value is None else float(value))
    frame = pd.DataFrame(
        {
            "run": pd.Categorical(run_col),
            "epoch": epoch_col,
            "metric": pd.Categorical(metric_col),
            "value": value_col,
        }
    )
    if keys:
        swept = pd.DataFrame([{"run": r.label, **{k: r.value(k) for k in keys}} for r in runs])
        frame = frame.merge(swept.astype({"run": frame["run"].dtype}), on="run", how="left")
    frame.attrs["swept"] = keys
    return frame

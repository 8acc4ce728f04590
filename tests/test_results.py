"""Notebook access: grok.load_run / load_sweep / load_sweep_metrics, grok ls --format, and the
docs notebooks executed as users run them."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import grok
from grok.store import load_checkpoint
from grok.train.checkpoints import early_epochs
from tests.conftest import ROOT, launch, read_metrics

DOCS = ROOT / "docs"
NOTEBOOKS = sorted(DOCS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def wd_sweep(tmp_path_factory) -> Path:
    """A real wd x seed multirun (tiny model, one fused pack)."""
    root = tmp_path_factory.mktemp("wd_sweep")
    launch(
        "-m", "model=tiny", "task.p=23", "task.train_frac=0.8", "optim.lr=1e-2",
        "optim.wd=0.5,1.0", "model.seed=0,1,2", "train.epochs=300", "train.eval_every=10",
        "measures.every=100", "train.progress=false", "logger=none",
        f"hydra.sweep.dir={root / 'multirun'}", cwd=root,
    )  # fmt: skip
    return root / "multirun"


@pytest.mark.slow
def test_load_run_gives_config_metrics_checkpoints_model_and_split(quickstart_alone):
    run = grok.load_run(quickstart_alone)
    rows = read_metrics(quickstart_alone)
    assert run.config.task.p == 47 and run.status == "done"
    assert run.summary["grok_epoch"] == run.metrics["test_acc"].ge(0.99).idxmax()
    assert list(run.metrics["epoch"]) == [r["epoch"] for r in rows]
    keys = run.metrics["fourier/key_freqs"].dropna()
    assert isinstance(keys.iloc[-1], list) and keys.iloc[-1] == rows[-1]["fourier/key_freqs"]
    # the quickstart's log schedule: 17 early checkpoints, then every 200 epochs to the end
    stop = run.summary["epochs"]
    assert run.epochs == [*early_epochs(200), *range(200, stop, 200), stop]
    model = run.model(epoch=600)
    reference = load_checkpoint(quickstart_alone / "checkpoints" / "weights_000600.pt").model
    assert torch.equal(model.W_E, reference.W_E)
    _, cache = model.run_with_cache(run.train.x[:5])
    assert cache["post", 0, "mlp"].shape == (5, 3, 512)
    x, _ = run.task.dataset()
    assert len(run.train.x) + len(run.test.x) == len(x) == 47 * 47
    assert len(run.train.x) == int(47 * 47 * 0.6)
    assert run.wandb_id == (quickstart_alone / "wandb_id").read_text().strip()


def test_load_run_reads_a_running_and_a_damaged_run(tmp_path):
    launch(
        "model=tiny", "task.p=23", "train.epochs=30", "train.eval_every=5", "logger=none",
        "train.progress=false", "hydra.run.dir=run", cwd=tmp_path,
    )  # fmt: skip
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["status"] = "running"
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 35, "train_lo')  # a writer killed mid-line
    with pytest.warns(UserWarning, match="incomplete last line dropped"):
        metrics = grok.load_run(run_dir).metrics
    assert list(metrics.epoch) == list(range(0, 31, 5))
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    lines[2] = lines[2][:15]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    run = grok.load_run(run_dir)
    with pytest.warns(UserWarning, match=r"metrics\.jsonl, line 3"):
        assert run.metrics.empty
    assert run.status == "damaged"


@pytest.mark.e2e  # a real 6-run multirun
def test_load_sweep_one_row_per_run_with_swept_columns(wd_sweep):
    sweep = grok.load_sweep(wd_sweep)
    assert len(sweep) == 6 and sweep.attrs["swept"] == ["optim.wd", "model.seed"]
    assert sorted(sweep["optim.wd"].unique()) == [0.5, 1.0]
    assert sorted(sweep["model.seed"].unique()) == [0, 1, 2]
    for name, row in sweep.iterrows():
        summary = json.loads((wd_sweep / name / "summary.json").read_text())
        assert row["status"] == "done" and row["final.test_acc"] == summary["final"]["test_acc"]
        assert row["grok_epoch"] == summary["grok_epoch"] or summary["grok_epoch"] is None
    curves = grok.load_sweep_metrics(wd_sweep, metrics=["test_acc", "train_loss"])
    assert set(curves.columns) == {"run", "epoch", "metric", "value", "optim.wd", "model.seed"}
    assert len(curves) == 6 * 31 * 2  # runs x evaluations x metrics


def test_load_sweep_reads_a_thousand_runs(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_report import make_sweep

    sweep = grok.load_sweep(make_sweep(tmp_path, 1000, rows=5))
    assert len(sweep) == 1000 and set(sweep.attrs["swept"]) == {
        "optim.wd",
        "optim.lr",
        "model.seed",
    }


@pytest.mark.e2e  # a real 6-run multirun
def test_grok_ls_formats_for_shell_pipelines(wd_sweep):
    def ls(fmt):
        out = subprocess.run(
            [sys.executable, "-m", "grok.cli", "ls", str(wd_sweep), "--format", fmt],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout

    rows = list(csv.DictReader(io.StringIO(ls("csv"))))
    records = json.loads(ls("json"))
    assert len(rows) == len(records) == 6
    assert {r["optim.wd"] for r in rows} == {"0.5", "1.0"}
    assert {r["optim.wd"] for r in records} == {0.5, 1.0}
    assert all(r["status"] == "done" and r["damage"] is None for r in records)


def test_notebooks_are_stored_without_outputs():
    import nbformat

    assert {p.name for p in NOTEBOOKS} >= {"analysis.ipynb", "sweep.ipynb"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["analysis.ipynb", "sweep.ipynb"])
def test_notebook_executes(name, quickstart_alone, wd_sweep, tmp_path):
    """Each cell runs as in Jupyter (a real ipykernel); an error in any cell fails."""
    import nbformat
    from nbclient import NotebookClient

    work = tmp_path / "docs"
    work.mkdir()
    shutil.copy(DOCS / name, work / name)
    nb = nbformat.read(work / name, as_version=4)
    env = {"GROK_RUN": str(quickstart_alone), "GROK_SWEEP": str(wd_sweep)}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
        ).execute()
    finally:
        for key in env:
            os.environ.pop(key, None)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= (5 if name == "analysis.ipynb" else 2)

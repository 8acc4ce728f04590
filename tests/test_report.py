"""grok report / grok ls on real runs; the HTML checked in headless Chromium."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from grok.report import find_runs, report
from grok.report.render import plotly_figure
from grok.report.run_figures import run_figures
from grok.report.sweep import sweep_figures
from tests.conftest import ROOT, launch

CHROMIUM = "/usr/bin/chromium"
RUN_FIGURES = {
    "curves",
    "progress",
    "fourier_norms",
    "attention",
    "embedding_circles",
    "neuron_clusters",
}


def grok_cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "grok.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def assert_png(path: Path, min_kb: int = 15) -> None:
    assert path.exists() and path.stat().st_size > min_kb * 1024, path
    with Image.open(path) as image:
        assert image.width >= 400 and image.height >= 300
        assert len(set(image.convert("L").getdata())) > 20  # not a blank canvas


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A real 4-run multirun (wd x lr) on CPU."""
    root = tmp_path_factory.mktemp("sweep")
    launch(
        "-m",
        "model=tiny",
        "task.p=23",
        "task.train_frac=0.8",
        "optim.wd=0.5,1.0",
        "optim.lr=3e-3,1e-2",
        "train.epochs=300",
        "train.eval_every=10",
        "measures.every=50",
        "train.progress=false",
        "logger=none",
        "hydra.sweep.dir=" + str(root / "multirun"),
        cwd=root,
    )
    return root / "multirun"


@pytest.mark.slow
def test_run_report_renders_every_figure(quickstart_alone, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(quickstart_alone, run_dir)
    out = grok_cli("report", str(run_dir)).stdout
    assert "report.html" in out
    figures = {f.name: f for f in run_figures(find_runs(run_dir)[0])}
    assert set(figures) == RUN_FIGURES
    for name in RUN_FIGURES:
        assert_png(run_dir / "report" / f"{name}.png")
    assert figures["curves"].traces() == 4  # train/test loss, train/test accuracy
    assert figures["progress"].traces() == 6  # test/restricted/excluded, two Gini, weights
    assert len(figures["embedding_circles"].panels) == len(
        json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["fourier/key_freqs"]
    )
    assert len(figures["attention"].panels) == 4  # 1 layer x 4 heads
    # phases shaded on the curves
    assert [s[2] for s in figures["curves"].panels[0].spans] == [
        "memorization",
        "circuit formation",
        "clean-up",
    ]


@pytest.mark.slow
def test_sweep_report_and_ls(sweep_dir):
    runs = find_runs(sweep_dir)
    assert len(runs) == 4
    files = report(sweep_dir)
    names = {p.stem for p in files["png"]}
    assert names == {"sweep_milestones", "sweep_curves", "sweep_phase"}
    for png in files["png"]:
        assert_png(png, min_kb=10)
    figures, _tables = sweep_figures(runs)
    curves = next(f for f in figures if f.name == "sweep_curves")
    assert curves.traces() == 4 and "optim.wd" in curves.panels[0].title
    milestones = next(f for f in figures if f.name == "sweep_milestones")
    assert [p.title for p in milestones.panels] == [
        "milestones vs optim.wd",
        "milestones vs optim.lr",
    ]
    table = (sweep_dir / "report" / "sweep_table.md").read_text().splitlines()
    assert len(table) == 2 + 4 and "grok_epoch" in table[0] and "optim.wd" in table[0]
    listing = grok_cli("ls", str(sweep_dir)).stdout.splitlines()
    assert len(listing) == 6 and all("| done |" in line for line in listing[2:])


def test_a_run_in_progress_reports_what_it_has(tmp_path):
    run_dir = tmp_path / "live"
    run_dir.mkdir()
    rows = [
        {
            "epoch": e,
            "train_loss": 3 - e / 100,
            "test_loss": 3.0,
            "train_acc": e / 300,
            "test_acc": 0.1,
        }
        for e in range(0, 200, 10)
    ]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "summary.json").write_text(json.dumps({"status": "running"}))
    from grok.store.lock import RunLock

    with RunLock(run_dir):  # a live trainer holds its run dir
        files = report(run_dir)
        assert [p.name for p in files["png"]] == ["curves.png"]
        assert "running" in grok_cli("ls", str(run_dir)).stdout
    # nobody holds it any more (a kill): it reads as interrupted, not running
    assert "interrupted" in grok_cli("ls", str(run_dir)).stdout


def test_a_thousand_run_sweep_reports(tmp_path):
    """Synthetic run dirs with the real file layout; speed is in benchmarks/bench_report.py."""
    from benchmarks.bench_report import make_sweep

    root = make_sweep(tmp_path, 1000)
    files = report(root, png=False)
    html = files["html"][0].read_text()
    assert html.count("class='grok-figure'") == 3 and html.count("<tr>") == 1001


def open_in_chromium(html: Path) -> dict:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium (.ci/install-chromium.sh)")
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        found = page.evaluate("""() => ({
            plots: document.querySelectorAll('.js-plotly-plot').length,
            traces: [...document.querySelectorAll('.js-plotly-plot')].map(d => d.data.length),
            svgs: document.querySelectorAll('.js-plotly-plot .main-svg').length,
            tables: document.querySelectorAll('section.grok-table table tr').length,
            remote_scripts: [...document.scripts].filter(s => s.src.startsWith('http')).length,
        })""")
        browser.close()
    return {"errors": errors, **found}


@pytest.mark.slow
def test_html_opens_in_headless_chromium_without_errors(quickstart_alone, sweep_dir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(quickstart_alone, run_dir)
    run_html = report(run_dir, png=False)["html"][0]
    page = open_in_chromium(run_html)
    assert page["errors"] == []
    assert page["plots"] == len(RUN_FIGURES) and page["svgs"] >= len(RUN_FIGURES)
    # every plotly trace the figures make (their series, plus IQR bands and the legend
    # entries of phase shading and milestone lines) reached the page
    expected = [len(plotly_figure(f).data) for f in run_figures(find_runs(run_dir)[0])]
    assert (
        sum(page["traces"])
        == sum(expected)
        >= sum(f.traces() for f in run_figures(find_runs(run_dir)[0]))
    )
    assert page["remote_scripts"] == 0  # self-contained: plotly.js is inlined
    sweep_html = report(sweep_dir, png=False)["html"][0]
    page = open_in_chromium(sweep_html)
    assert page["errors"] == [] and page["plots"] == 3 and page["tables"] == 5


TASK_VIEWS = {
    "sine": (
        [
            "experiment=sine_seed",
            "model.d_model=16",
            "model.d_head=4",
            "model.d_mlp=32",
            "task.n_points=12",
            "task.n_samples=100",
        ],
        "sine_pca",
        4,  # k-embedding PC1, PC2; W_pos PCA; W_pos cosine-similarity matrix (seed 000)
    ),
    "reversal": (
        ["experiment=reversal_seed", "task.length=4", "task.split=random", "train.batch_size=64"],
        "reversal",
        2,
    ),
    "fraction": (
        ["experiment=fraction_seed", "task.n_samples=200", "model.d_model=16", "model.d_mlp=16"],
        "fraction_predictions",
        2,
    ),
}


@pytest.mark.parametrize("task", sorted(TASK_VIEWS))
def test_task_views_render_from_a_real_run(task, tmp_path):
    """Each non-modular task's own view, from a short real CPU run (its checkpoint and measures)."""
    from grok.run import run
    from tests.conftest import make_cfg

    overrides, view, n_traces = TASK_VIEWS[task]
    cfg = make_cfg(
        *overrides,
        "train.epochs=4",
        "train.eval_every=2",
        "measures.every=2",
        "train.checkpoint_every=4",
        "train.progress=false",
        "logger=none",
    )
    run_dir = tmp_path / task
    run(cfg, run_dir, progress=False)
    figures = {f.name: f for f in run_figures(find_runs(run_dir)[0])}
    assert view in figures and figures[view].traces() == n_traces
    seed_views = {"sine": "sine_pca", "reversal": "reversal_embeddings", "fraction": "llc"}
    assert figures[seed_views[task]].traces() >= 2  # the seed's own views (grok/report/seed_views)
    assert "curves" in figures and "progress" in figures
    files = report(run_dir)
    assert {p.stem for p in files["png"]} == set(figures)
    assert_png(run_dir / "report" / f"{view}.png", min_kb=10)

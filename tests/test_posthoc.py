"""grok measure: the Fourier suite on every checkpoint with the final model's key frequencies
(grok/posthoc.py), on real short runs; and the report's post hoc panels."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grok.cli import main as grok_main
from grok.measures.modular import fourier_values, model_forward
from grok.report import find_runs, report
from grok.report.run_figures import run_figures
from grok.report.sweep import sweep_figures
from grok.store import POSTHOC, load_checkpoint, read_jsonl
from grok.store.files import strict
from tests.conftest import ROOT, launch

pytestmark = pytest.mark.e2e  # a real sweep and grok measure processes: end to end

# p=23, tiny model: in 300 epochs the key frequencies settle (the first checkpoint's own
# differ from the final model's, so final keys and online keys give different values).
RUNS = [
    "model=tiny",
    "task.p=23",
    "task.train_frac=0.8",
    "optim.lr=1e-2",
    "train.epochs=300",
    "train.eval_every=10",
    "train.log_every=100",
    "train.checkpoint_every=60",
    "train.progress=false",
    "logger=none",
]
CHECKPOINTS = [60, 120, 180, 240, 300]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A real 2-run multirun (model.seed=0,1), a sine run, and a modular run dir whose
    checkpoints are gone, side by side in one sweep dir."""
    root = tmp_path_factory.mktemp("posthoc")
    sweep_dir = root / "multirun"
    launch("-m", *RUNS, "model.seed=0,1", f"hydra.sweep.dir={sweep_dir}", cwd=root)
    sine = ["task=sine", "model=tiny", "train.epochs=20", "train.checkpoint_every=10"]
    launch(
        *sine, "train.progress=false", "logger=none", f"hydra.run.dir={sweep_dir}/2_sine", cwd=root
    )
    bare = sweep_dir / "3_no_checkpoints"
    shutil.copytree(modular_runs(sweep_dir)[0], bare, ignore=shutil.ignore_patterns("checkpoints"))
    return sweep_dir


def modular_runs(sweep_dir: Path) -> list[Path]:
    return sorted(p for p in sweep_dir.glob("[01]_*") if p.is_dir())


def copy_run(sweep_dir: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(modular_runs(sweep_dir)[0], run)
    return run


def grok_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grok.cli", *args], cwd=ROOT, capture_output=True, text=True
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected(run: Path, epoch: int, keys: list[int] | None) -> dict:
    """``fourier_values`` on the loaded checkpoint, as JSON stores it."""
    ckpt = load_checkpoint(run, epoch)
    params = dict(ckpt.model.named_parameters())
    forward = model_forward(ckpt.model, ckpt.task)
    return strict(fourier_values(ckpt.task, params, forward, ckpt.model, key_freqs=keys))


def final_keys(run: Path) -> list[int]:
    return expected(run, CHECKPOINTS[-1], None)["fourier/key_freqs"]


def assert_rows(run: Path, spec: str, keys: list[int]) -> list[dict]:
    rows = read_jsonl(run / POSTHOC)
    assert [r["epoch"] for r in rows] == CHECKPOINTS
    for row in rows:
        want = expected(run, row["epoch"], keys)
        assert (row["keys"], row["keys_used"]) == (spec, keys)
        assert {k: row[k] for k in want} == want, row["epoch"]
    return rows


def test_measure_writes_each_checkpoint_with_the_final_keys_and_reruns_as_a_no_op(sweep, tmp_path):
    run = copy_run(sweep, tmp_path)
    metrics = digest(run / "metrics.jsonl")
    proc = grok_cli("measure", str(run))
    assert proc.returncode == 0, proc.stderr
    assert f"{len(CHECKPOINTS)} checkpoint(s) measured" in proc.stdout
    keys = final_keys(run)
    rows = assert_rows(run, "final", keys)
    assert keys and all(r["keys_epoch"] == CHECKPOINTS[-1] for r in rows)
    assert rows[0]["fourier/key_freqs"] != keys  # the first checkpoint's own keys differ
    # the last checkpoint's own keys are the final ones: the values training measured online
    online = next(r for r in read_jsonl(run / "metrics.jsonl") if r["epoch"] == CHECKPOINTS[-1])
    assert {k: rows[-1][k] for k in online if k.startswith("fourier/")} == {
        k: v for k, v in online.items() if k.startswith("fourier/")
    }
    assert digest(run / "metrics.jsonl") == metrics
    written = digest(run / POSTHOC)
    again = grok_cli("measure", str(run))
    assert again.returncode == 0 and "0 checkpoint(s) to measure" in again.stdout
    assert digest(run / POSTHOC) == written


def test_keys_list_replaces_the_file_and_a_torn_line_is_recomputed(sweep, tmp_path):
    run = copy_run(sweep, tmp_path)
    assert grok_main(["measure", str(run)]) == 0
    final = (run / POSTHOC).read_bytes()
    assert grok_main(["measure", str(run), "--keys", "5,1"]) == 0
    assert_rows(run, "1,5", [1, 5])
    listed = digest(run / POSTHOC)
    assert grok_main(["measure", str(run), "--keys", "1,12"]) == 2  # p=23 has k = 1..11
    assert digest(run / POSTHOC) == listed
    assert grok_main(["measure", str(run), "--keys", "final"]) == 0
    assert (run / POSTHOC).read_bytes() == final
    (run / POSTHOC).write_bytes(final[: final.rindex(b"\n", 0, -1) + 40])  # torn last row
    with pytest.warns(UserWarning, match="incomplete last line"):
        assert grok_main(["measure", str(run)]) == 0
    assert (run / POSTHOC).read_bytes() == final


@pytest.fixture(scope="module")
def measured_sweep(sweep, tmp_path_factory) -> tuple[Path, str]:
    sweep_dir = tmp_path_factory.mktemp("measured") / "multirun"
    shutil.copytree(sweep, sweep_dir)
    proc = grok_cli("measure", str(sweep_dir))
    assert proc.returncode == 0, proc.stderr
    return sweep_dir, proc.stdout


def test_a_sweep_measures_its_modular_runs_and_names_the_others(measured_sweep):
    sweep_dir, out = measured_sweep
    assert "skipped 1 run(s), not modular: 2_sine" in out
    assert "skipped 1 run(s), no checkpoints: 3_no_checkpoints" in out
    assert "2 run(s), keys final: 10 checkpoint(s) to measure" in out
    for run in modular_runs(sweep_dir):
        assert_rows(run, "final", final_keys(run))
    assert not (sweep_dir / "2_sine" / POSTHOC).exists()
    assert not (sweep_dir / "3_no_checkpoints" / POSTHOC).exists()


def test_reports_draw_the_post_hoc_panels_when_the_file_exists(sweep, measured_sweep, tmp_path):
    def progress_titles(run_dir: Path) -> list[str]:
        figures = {f.name: f for f in run_figures(find_runs(run_dir)[0])}
        return [p.title for p in figures["progress"].panels]

    before = progress_titles(modular_runs(sweep)[0])
    assert not any(t.startswith("post hoc") for t in before)
    sweep_dir, _ = measured_sweep
    run_dir = tmp_path / "run"
    shutil.copytree(modular_runs(sweep_dir)[0], run_dir)
    figures = {f.name: f for f in run_figures(find_runs(run_dir)[0])}
    panels = figures["progress"].panels
    keys = read_jsonl(run_dir / POSTHOC)[-1]["keys_used"]
    assert [p.title for p in panels] == [
        "restricted / excluded loss",
        f"post hoc, final model's keys {keys} (epoch {CHECKPOINTS[-1]})",
        "Gini of Fourier norms",
        "sum of squared weights",
    ]
    assert [len(s.x) for s in panels[1].series] == [len(CHECKPOINTS)] * 3
    assert [s.kind for s in panels[2].series] == ["line", "line", "scatter", "scatter"]
    files = report(run_dir)
    assert (run_dir / "report" / "progress.png").stat().st_size > 30_000
    assert "post hoc, final model" in files["html"][0].read_text()
    sweep_figs, _ = sweep_figures(find_runs(sweep_dir))
    post = next(f for f in sweep_figs if f.name == "sweep_posthoc")
    assert [p.title for p in post.panels] == [
        "restricted (test) loss, post hoc",
        "excluded loss, post hoc",
    ]
    # the two modular runs differ only in model.seed: replicates, one median curve with a band
    assert [len(p.series) for p in post.panels] == [1, 1]
    assert all(
        s.label.endswith("(median of 2)") and s.spread for p in post.panels for s in p.series
    )
    by_seed, _ = sweep_figures(find_runs(sweep_dir), color_by="model.seed")
    post = next(f for f in by_seed if f.name == "sweep_posthoc")
    assert [len(p.series) for p in post.panels] == [2, 2]  # the two modular runs, one each
    before_sweep, _ = sweep_figures(find_runs(sweep))
    assert "sweep_posthoc" not in {f.name for f in before_sweep}


def test_a_run_started_over_drops_its_post_hoc_rows(sweep, tmp_path):
    """train.resume=false clears the run dir (RunStore.clear): the rows described the old
    checkpoints, so the file goes with them."""
    from grok.store import RunStore

    run = copy_run(sweep, tmp_path)
    assert grok_main(["measure", str(run), "--keys", "online"]) == 0
    RunStore(run).clear()
    assert not (run / POSTHOC).exists()

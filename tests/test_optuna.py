"""hydra/sweeper=grok_optuna (hydra_plugins/grok_launcher/optuna_sweeper.py): an Optuna study
whose batches train as fused packs, scored from summary.json, resumed after kill -9.

Sequence reversal at its smallest (as tests/test_stop_after_grok.py): lr ~1e-3 groks within
~150 epochs, lr <= 1e-4 not by 200, so a log-uniform lr over 1e-5..1e-2 gives both kinds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from grok.store import RunStore
from tests.conftest import launch, read_json, start_launch

R = ["task=reversal", "task.length=4", "task.vocab=3", "model=tiny", "measures=none"]
R += ["logger=none", "train.progress=false", "hardware.threads=1", "train.epochs=200"]
R += ["train.eval_every=5", "train.log_every=50", "train.checkpoint_every=50"]
SEARCH = ["hydra/sweeper=grok_optuna", "optim.lr=tag(log,interval(1e-5,1e-2))", "model.seed=0,1"]
SEARCH += ["hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=3", "hydra.sweeper.seed=1"]


def _study(sweep: Path):
    import optuna

    return optuna.load_study(study_name=None, storage=f"sqlite:///{sweep / 'optuna.db'}")


def _run_dirs(sweep: Path) -> list[str]:
    return sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name[0].isdigit())


def test_the_search_space_syntax_is_hydra_optuna_sweepers():
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from optuna.distributions import CategoricalDistribution as C
    from optuna.distributions import FloatDistribution as F
    from optuna.distributions import IntDistribution as I

    from hydra_plugins.grok_launcher.search import parse_space

    space = parse_space(
        OverridesParser.create(),
        {"optim.wd": "interval(0.1,2.0)", "optim.lr": "1e-3"},
        [
            "optim.lr=tag(log,interval(1e-4,1e-2))",  # the command line wins
            "model.d_mlp=tag(log,interval(16,512))",
            "model.n_layers=int(interval(1,3))",
            "train.batch_size=range(32,129,32)",
            "optim.min_lr_ratio=range(0.5,2.0,0.5)",
            "model.seed=0,1,2",
            "optim=choice(adamw,sgd)",
            "train.epochs=100",
        ],
    )
    assert space.params == {
        "optim.wd": F(0.1, 2.0),
        "optim.lr": F(1e-4, 1e-2, log=True),
        "model.d_mlp": I(16, 512, log=True),
        "model.n_layers": I(1, 3),
        "train.batch_size": I(32, 128, step=32),  # Hydra's range: hi excluded
        "optim.min_lr_ratio": F(0.5, 1.5, step=0.5),
        "model.seed": C([0, 1, 2]),
        "optim": C(["adamw", "sgd"]),
    }
    assert space.fixed == ["train.epochs=100"]
    values = {"optim.wd": 0.5, "optim.lr": 1e-3, "model.d_mlp": 64, "model.n_layers": 2}
    values |= {"train.batch_size": 64, "optim.min_lr_ratio": 1.0, "model.seed": 1, "optim": "sgd"}
    assert space.overrides(values)[:3] == ["train.epochs=100", "optim.wd=0.5", "optim.lr=0.001"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The 6-trial study, 2 batches of 3, as users run it."""
    root = tmp_path_factory.mktemp("optuna")
    proc = launch("-m", *R, "train.stop_after_grok=0", *SEARCH, "hydra.sweep.dir=opt", cwd=root)
    return root / "opt", proc


@pytest.mark.e2e
def test_each_batch_is_one_pack_and_each_value_its_summarys(searched):
    sweep, proc = searched
    trials = _study(sweep).trials
    assert [(t.number, t.state.name) for t in trials] == [(n, "COMPLETE") for n in range(6)]
    penalized = []
    for t in trials:
        run = Path(t.user_attrs["grok.run_dir"])
        assert run.parent == sweep.absolute() and run.name.startswith(f"{t.number}_")
        summary = read_json(run / "summary.json")
        assert summary["pack"] == {"size": 3, "index": t.number % 3}  # one pack per batch
        grokked = summary["grok_epoch"] is not None
        assert t.value == (summary["grok_epoch"] if grokked else 2 * 200)  # the penalty
        assert t.user_attrs["grok.penalized"] is (not grokked)
        penalized.append(not grokked)
    assert any(penalized) and not all(penalized), "the space should hold both kinds"
    assert _run_dirs(sweep) == sorted(Path(t.user_attrs["grok.run_dir"]).name for t in trials)
    out = proc.stdout
    assert "6 trials (6 complete)" in out  # counted from the study
    assert "best: trial" in out and "optuna-dashboard sqlite:///opt/optuna.db" in out
    assert "resume: " in out and "hydra.sweep.dir=opt" in out


@pytest.mark.e2e
def test_the_report_draws_the_trials(searched, tmp_path):
    from grok.report import report

    files = report(searched[0], out=tmp_path)
    png = tmp_path / "optuna_trials.png"
    assert png in files["png"] and png.stat().st_size > 10_000
    table = (tmp_path / "optuna_trials.md").read_text()
    assert "| 5 | complete |" in table and "optim.lr" in table


@pytest.mark.e2e
def test_kill_9_in_batch_2_then_the_same_command_loses_and_repeats_no_trial(tmp_path):
    """SIGKILL once trial 3 has a checkpoint: the rerun trains trials 3-5 again with their
    recorded values in their own run dirs (resumed from the checkpoint), and asks no more."""
    sweep = tmp_path / "opt"
    slow = ["optim.lr=tag(log,interval(1e-5,1e-4))", "train.epochs=300"]  # none groks
    args = ["-m", *R, *SEARCH, *slow, f"hydra.sweep.dir={sweep}"]
    proc = start_launch(*args, cwd=tmp_path, start_new_session=True)

    def trial_3_checkpointed() -> bool:
        runs = list(sweep.glob("3_*"))
        return bool(runs) and bool(RunStore(runs[0]).resumable_epochs())

    deadline = time.time() + 300
    while not trial_3_checkpointed():
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = {t.number: t for t in _study(sweep).trials}
    assert before[3].state.name == "RUNNING", {n: t.state.name for n, t in before.items()}
    dirs = _run_dirs(sweep)
    rerun = launch(*args, cwd=tmp_path)
    assert "6 trials (6 complete)" in rerun.stdout
    assert "best: none; no trial reached grok_epoch (each scored the penalty)" in rerun.stdout
    after = _study(sweep).trials
    assert [(t.number, t.state.name) for t in after] == [(n, "COMPLETE") for n in range(6)]
    for n, t in before.items():
        assert after[n].params == t.params
        assert after[n].user_attrs["grok.run_dir"] == t.user_attrs["grok.run_dir"]
    assert len({tuple(sorted(t.params.items())) for t in after}) == 6
    assert set(dirs) <= set(_run_dirs(sweep)) and len(_run_dirs(sweep)) == 6
    resumed = read_json(Path(after[3].user_attrs["grok.run_dir"]) / "summary.json")
    assert resumed["status"] == "done" and len(resumed["segments"]) == 2


@pytest.mark.e2e
def test_a_failed_run_is_a_failed_trial_and_the_command_exits_1(tmp_path):
    args = ["-m", *R, "hydra/sweeper=grok_optuna", "optim.lr=choice(1e12)", "hydra.sweep.dir=opt"]
    proc = launch(*args, "hydra.sweeper.n_trials=1", cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stderr
    (trial,) = _study(tmp_path / "opt").trials
    assert trial.state.name == "FAIL" and "diverged" in trial.user_attrs["grok.failure"]
    assert "1 trials (1 failed)" in proc.stderr and "trial 0: " in proc.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["hydra.sweeper.objective=grok_epochs"], "objective=grok_epochs: not a field"),
        (["model.n_layers=interval(1,3)"], "model.n_layers=1.0: must be a positive integer"),
        (["optim.wd=tag(log,range(1,3))"], "the only tag is log, on an interval"),
    ],
)
def test_bad_search_input_is_one_message_exit_2_and_nothing_created(tmp_path, extra, message):
    proc = launch("-m", *R, *SEARCH, *extra, "hydra.sweep.dir=opt", cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert message in proc.stderr and lines[0].startswith("grok: "), proc.stderr
    if "objective" in message:  # one line, naming what is allowed
        assert len(lines) == 1 and "grok_epoch, memorization_epoch, final/" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no sweep dir, no optuna.db


@pytest.mark.e2e
def test_the_dry_run_prints_the_space_and_the_first_batch_and_creates_nothing(tmp_path):
    proc = launch("-m", *R, *SEARCH, "hydra.launcher.dry_run=true", cwd=tmp_path)
    assert "optim.lr: float in [1e-05, 0.01], log" in proc.stdout
    assert "model.seed: one of 0, 1" in proc.stdout
    assert "3 job(s) in 1 local process(es)" in proc.stdout and "#2: " in proc.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slurm
@pytest.mark.slow
def test_on_slurm_each_batch_is_one_array_task(slurm_cluster, tmp_path):
    """``hardware=slurm_local``: 4 trials in 2 batches of 2 are 2 SLURM array tasks, each
    a fused pack of 2, scored from the summaries the jobs wrote."""
    sweep = tmp_path / "opt"
    search = [*SEARCH[:2], "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2"]
    search += ["hydra.sweeper.seed=1", "hardware=slurm_local", f"hydra.sweep.dir={sweep}"]
    launch("-m", *R, "train.stop_after_grok=0", *search, cwd=tmp_path)
    assert len(list(sweep.glob(".submitit/*/*_result.pkl"))) == 2  # one SLURM task per batch
    trials = _study(sweep).trials
    assert [(t.number, t.state.name) for t in trials] == [(n, "COMPLETE") for n in range(4)]
    for t in trials:
        summary = read_json(Path(t.user_attrs["grok.run_dir"]) / "summary.json")
        assert summary["pack"] == {"size": 2, "index": t.number % 2}
        grokked = summary["grok_epoch"] is not None
        assert t.value == (summary["grok_epoch"] if grokked else 2 * 200)

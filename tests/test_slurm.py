"""Sweeps through a real SLURM cluster: run dirs, resume after preemption, W&B files read back.

The cluster is Debian's slurm-wlm on this machine (tests/slurm_cluster.py); jobs go through
grok's submitit launcher exactly as on McCleary, Grace or Bouchet, minus the GPUs.
"""

import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import launch, read_json, read_metrics, start_launch
from tests.wandb_files import offline_runs

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# Threads fixed to 1 on both sides: CPU matmul results depend on the thread count.
RUN = [
    "model=tiny",
    "task.p=23",
    "task.train_frac=0.5",
    "optim.lr=1e-2",
    "train.eval_every=10",
    "train.log_every=10",
    "train.checkpoint_every=100",
    "train.progress=false",
    "logger.mode=offline",
    "hardware.threads=1",
]


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("multirun/**/summary.json"))


def numbers(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in read_metrics(run_dir)]


def local_reference(tmp_path: Path, *overrides: str) -> Path:
    run_dir = tmp_path / "reference"
    launch(*RUN, *overrides, "hardware=cpu", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    return run_dir


def test_two_job_multirun_runs_as_slurm_jobs(slurm_cluster, tmp_path):
    proc = launch(
        "-m",
        "hardware=slurm_local",
        *RUN,
        "train.epochs=100",
        "optim.wd=0.1,1.0",
        "hydra.launcher.pack=false",
        cwd=tmp_path,
    )
    # pack=false: one array task per run, through the same checks as packs
    assert "Submitting 2 jobs as 2 SLURM array task(s) of sizes [1, 1]" in proc.stdout
    dirs = run_dirs(tmp_path)
    assert len(dirs) == 2
    results = list(tmp_path.glob("multirun/**/.submitit/*/*_result.pkl"))
    assert len(results) == 2  # two SLURM array tasks returned
    wds = []
    for d in dirs:
        summary = read_json(d / "summary.json")
        assert summary["status"] == "done" and summary["epochs"] == 100
        assert summary["final"]["train_acc"] > 0.5
        wds.append(yaml.safe_load((d / "config.yaml").read_text())["optim"]["wd"])
        # W&B offline files, read back: the run's metrics, config and summary
        (run,) = offline_runs(d)
        assert [r["epoch"] for r in run.history] == list(range(0, 101, 10))
        assert run.history[-1]["test_loss"] == pytest.approx(summary["final"]["test_loss"])
        assert run.config["optim"]["wd"] == wds[-1] and run.config["task"]["p"] == 23
        assert run.summary["status"] == "done" and run.summary["epochs"] == 100
        assert run.summary["final/test_acc"] == pytest.approx(summary["final"]["test_acc"])
        assert run.job_type == "modsub" and run.run_id == (d / "wandb_id").read_text().strip()
    assert sorted(wds) == [0.1, 1.0]
    reference = local_reference(tmp_path, "train.epochs=100", "optim.wd=0.1")
    slurm_run = next(d for d, wd in zip(dirs, wds, strict=True) if wd == 0.1)
    assert numbers(slurm_run) == numbers(reference)


def _all_jobs(cluster) -> set[str]:
    """Every job the controller knows, finished ones included (MinJobAge keeps them)."""
    return set(cluster.run(["squeue", "-h", "-t", "all", "-o", "%i"]).stdout.split())


def _job_ids(cluster, exclude: set[str] = frozenset()) -> list[str]:
    """Running jobs, less ``exclude`` (a job of an earlier test may still be completing)."""
    out = cluster.run(["squeue", "-h", "-o", "%i %T"]).stdout.split("\n")
    running = [line.split()[0] for line in out if line.strip().endswith("RUNNING")]
    return [job for job in running if job not in exclude]


def _wait_for_progress(root: Path, proc, epoch: int, timeout: float = 180) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        for metrics in root.glob("multirun/**/metrics.jsonl"):
            lines = metrics.read_text().splitlines()
            if lines and yaml.safe_load(lines[-1])["epoch"] >= epoch:
                return metrics.parent
        time.sleep(0.2)
    raise TimeoutError(f"no run reached epoch {epoch}")


@pytest.mark.parametrize("how", ["usr2", "scontrol_requeue"])
def test_interrupted_slurm_job_resumes_to_identical_metrics(slurm_cluster, tmp_path, how):
    """Preemption through submitit (SIGTERM + USR2, as job._interrupt()) and a plain
    `scontrol requeue`: the job is requeued, resumes from its checkpoint, and ends with the
    metrics of an uninterrupted run; its W&B run keeps one id."""
    args = [
        "-m",
        "hardware=slurm_local",
        *RUN,
        "train.epochs=1500",
        "optim.wd=1.0",
        "hydra.launcher.pack=false",
    ]
    earlier = _all_jobs(slurm_cluster)
    proc = start_launch(*args, cwd=tmp_path)
    run_dir = _wait_for_progress(tmp_path, proc, 300)
    (job,) = _job_ids(slurm_cluster, exclude=earlier)
    if how == "usr2":
        slurm_cluster.run(["scancel", job, "--signal", "SIGTERM"])
        slurm_cluster.run(["scancel", job, "--signal", "USR2"])
    else:
        slurm_cluster.run(["scontrol", "requeue", job])
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "done" and summary["epochs"] == 1500
    restarts = slurm_cluster.run(["scontrol", "show", "job", job]).stdout
    assert "Restarts=1" in restarts or "Requeue" in out or len(offline_runs(run_dir)) == 2
    reference = local_reference(tmp_path, "train.epochs=1500", "optim.wd=1.0")
    assert numbers(run_dir) == numbers(reference)
    assert summary["final"] == read_json(reference / "summary.json")["final"]
    # W&B (offline, as on the clusters): one run id across the segments, every epoch once.
    # (A segment SIGKILLed while writing its W&B file leaves a partial one; the next segment
    # deletes it and replays its rows: tests/test_logger.py.)
    runs = offline_runs(run_dir)
    assert {r.run_id for r in runs} == {(run_dir / "wandb_id").read_text().strip()}
    logged = [r["epoch"] for run in runs for r in run.history]
    assert logged == list(range(0, 1501, 10))  # every evaluated epoch, once, in order
    assert runs[-1].summary["status"] == "done" and runs[-1].summary["epochs"] == 1500
    if how == "usr2":  # checkpointed, finished its W&B segment, requeued, resumed
        assert len(runs) == 2 and runs[0].summary["status"] == "interrupted"


def test_unsupported_resources_fail_before_submission(slurm_cluster, tmp_path):
    earlier = _all_jobs(slurm_cluster)
    proc = launch(
        "-m",
        "hardware=slurm_local",
        "hydra.launcher.timeout_min=5000",
        "optim.wd=0.1,1.0",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert (
        "hydra.launcher.timeout_min=5000: partition debug allows at most 1440 minutes"
        in proc.stderr
    )
    assert not list(tmp_path.iterdir())
    assert _all_jobs(slurm_cluster) <= earlier  # nothing new was submitted
    bad = launch("-m", "hardware=slurm_local", "optim.nope=1,2", cwd=tmp_path, check=False)
    assert bad.returncode != 0 and "optim.nope" in bad.stderr
    assert not list(tmp_path.iterdir())

"""Big sweeps as a few SLURM jobs: compatible configurations packed into one array task each."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, launch, read_json
from tests.test_slurm import RUN, _all_jobs, _job_ids, _wait_for_progress, numbers
from tests.wandb_files import offline_runs

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

GRID = ["model.seed=0,1,2,3,4,5,6,7", "optim.wd=0.5,1.0"]


def summaries(root: Path) -> dict[str, dict]:
    return {p.parent.name: read_json(p) for p in root.glob("**/summary.json")}


def test_sixteen_configs_run_as_one_packed_slurm_job(slurm_cluster, tmp_path):
    (tmp_path / "slurm").mkdir()
    (tmp_path / "local").mkdir()
    sweep_dir = tmp_path / "slurm" / "sweep"
    args = ["-m", *RUN, *GRID, "train.epochs=100"]
    slurm = ["hardware=slurm_local", f"hydra.sweep.dir={sweep_dir}"]
    proc = launch(*args, *slurm, cwd=tmp_path / "slurm")
    assert "Submitting 16 jobs as 1 SLURM array task(s) of sizes [16]" in proc.stderr + proc.stdout
    assert len(list(sweep_dir.glob(".submitit/*/*_result.pkl"))) == 1  # one SLURM job
    packed = summaries(tmp_path / "slurm")
    assert len(packed) == 16
    assert {s["pack"]["size"] for s in packed.values()} == {16}
    # every member is a run of its own: own dir, summary and W&B run (grouped by the sweep)
    ids = set()
    for name, summary in packed.items():
        run_dir = next(sweep_dir.glob(name))
        (run,) = offline_runs(run_dir)
        ids.add(run.run_id)
        assert run.summary["final/test_loss"] == pytest.approx(summary["final"]["test_loss"])
        config = run.config
        seed, wd = config["model"]["seed"], config["optim"]["wd"]
        assert run.name == f"model.seed={seed},optim.wd={wd}"  # its swept values only
        assert run.group == json.loads((sweep_dir / "sweep.json").read_text())["group"]
    assert len(ids) == 16
    # ... with exactly the numbers of the same multirun trained locally, one job at a time
    launch(*args, "hardware=cpu", "hydra.launcher.pack=false", cwd=tmp_path / "local")
    alone = summaries(tmp_path / "local")
    assert alone.keys() == packed.keys()
    for name, summary in packed.items():
        assert alone[name]["pack"]["size"] == 1
        assert summary["final"] == alone[name]["final"], name
        assert summary["memorization_epoch"] == alone[name]["memorization_epoch"]

    # Submitting the finished sweep again trains nothing: members already done are skipped.
    before = {name: s["wall_seconds"] for name, s in packed.items()}
    launch(*args, *slurm, cwd=tmp_path / "slurm")
    assert {name: s["wall_seconds"] for name, s in summaries(tmp_path / "slurm").items()} == before


def test_pack_preempted_by_usr2_resumes_every_member(slurm_cluster, tmp_path):
    args = ["-m", *RUN, "model.seed=0,1", "optim.wd=0.5,1.0", "train.epochs=1500"]
    (tmp_path / "slurm").mkdir()
    earlier = _all_jobs(slurm_cluster)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *args, "hardware=slurm_local"],
        cwd=tmp_path / "slurm",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for_progress(tmp_path / "slurm", proc, 300)
    (job,) = _job_ids(slurm_cluster, exclude=earlier)
    slurm_cluster.run(["scancel", job, "--signal", "SIGTERM"])  # as submitit's job._interrupt()
    slurm_cluster.run(["scancel", job, "--signal", "USR2"])
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    run_dirs = sorted(p.parent for p in (tmp_path / "slurm").glob("multirun/**/summary.json"))
    assert len(run_dirs) == 4
    for run_dir in run_dirs:  # each member: two starts (first + resumed), one W&B run id
        assert len(list(run_dir.glob("wandb/offline-run-*"))) == 2
        assert read_json(run_dir / "summary.json")["status"] == "done"
    (tmp_path / "local").mkdir()
    launch(*args, "hardware=cpu", cwd=tmp_path / "local")  # the same pack, never interrupted
    for run_dir in run_dirs:
        reference = next((tmp_path / "local").glob(f"multirun/**/{run_dir.name}"))
        assert numbers(run_dir) == numbers(reference), run_dir.name
        final = read_json(run_dir / "summary.json")["final"]
        assert final == read_json(reference / "summary.json")["final"]

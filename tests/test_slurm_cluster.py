"""A real single-node SLURM cluster: sbatch and submitit jobs run, finish, and fail visibly.

Task functions come from importable modules (math, operator, time): functions defined in a test
file are pickled by module name and fail to import inside the job.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.slurm_cluster import SlurmCluster

pytestmark = pytest.mark.slurm


@pytest.fixture
def executor(slurm_cluster: SlurmCluster, tmp_path: Path) -> Any:
    import submitit

    ex = submitit.AutoExecutor(folder=tmp_path / "%j", cluster="slurm")
    ex.update_parameters(
        slurm_partition=slurm_cluster.partition, timeout_min=5, cpus_per_task=1, mem_gb=1
    )
    return ex


def sacct(cluster: SlurmCluster, *job_ids: str) -> list[str]:
    """What submitit asks (see submitit/slurm/slurm.py: SlurmInfoWatcher._make_command)."""
    cmd = ["sacct", "-o", "JobID,State,NodeList", "--parsable2"]
    for job_id in job_ids:
        cmd += ["-j", job_id]
    return cluster.run(cmd).stdout.splitlines()


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def test_sbatch_jobs_run_and_report_their_state(slurm_cluster: SlurmCluster, tmp_path: Path):
    c = slurm_cluster
    out = tmp_path / "out.txt"
    sbatch = ["sbatch", "--parsable", "-p", c.partition, "-o"]
    ok = c.run([*sbatch, str(out), "--wrap", "echo hello from $SLURM_JOB_ID"]).stdout.strip()
    bad = c.run([*sbatch, "/dev/null", "--wrap", "exit 3"]).stdout.strip()
    want = [
        "JobID|State|NodeList",
        f"{ok}|COMPLETED|{c.node}",
        f"{bad}|FAILED|{c.node}",
    ]
    wait_for(lambda: sorted(sacct(c, ok, bad)) == sorted(want), 20, f"{want} in sacct")
    assert out.read_text().strip() == f"hello from {ok}"


def test_oversized_request_is_rejected_not_left_pending(slurm_cluster: SlurmCluster):
    proc = slurm_cluster.run(["sbatch", "--mem=100T", "--wrap", "true"], check=False)
    assert proc.returncode != 0, proc.stdout


def test_submitit_job_returns_its_result(executor: Any):
    job = executor.submit(math.factorial, 10)
    wait_for(job.done, 30, f"submitit job {job.job_id}")
    assert job.result() == 3628800


def test_cancelled_submitit_job_raises_instead_of_hanging(
    executor: Any, slurm_cluster: SlurmCluster
):
    from submitit.core.utils import UncompletedJobError

    job = executor.submit(time.sleep, 300)
    running = f"{job.job_id}|RUNNING|{slurm_cluster.node}"
    wait_for(lambda: running in sacct(slurm_cluster, job.job_id), 20, running)
    slurm_cluster.run(["scancel", job.job_id])
    wait_for(job.done, 20, "submitit to see the cancelled job as done")
    job._results_timeout_s = 0  # else result() waits 15 s for a result file (slow NFS guard)
    with pytest.raises(UncompletedJobError):
        job.result()
    assert job.state.startswith("CANCELLED")


def test_submitit_job_array(executor: Any, slurm_cluster: SlurmCluster):
    jobs = executor.map_array(operator.add, [1, 2], [10, 20])
    main = jobs[0].job_id.split("_")[0]
    assert [j.job_id for j in jobs] == [f"{main}_0", f"{main}_1"]
    wait_for(lambda: all(j.done() for j in jobs), 30, "both array tasks")
    assert [j.result() for j in jobs] == [11, 22]
    done = {f"{main}_{i}|COMPLETED|{slurm_cluster.node}" for i in (0, 1)}
    wait_for(lambda: done <= set(sacct(slurm_cluster, main)), 10, f"{done} in sacct")

"""The W&B sink without SLURM: offline runs read back from their files (no cloud)."""

import shutil

import pytest

from grok.run import run
from tests.conftest import TINY, make_cfg
from tests.wandb_files import offline_runs

# W&B offline runs through launch.py, and a bounded network wait
pytestmark = pytest.mark.e2e

OFFLINE = [*TINY, "logger=wandb", "logger.mode=offline", "train.eval_every=10"]


def test_offline_run_cut_short_by_a_kill_is_replaced_not_duplicated(tmp_path):
    """A segment SIGKILLed while writing its offline run leaves a partial file (seen under
    `scontrol requeue`: srun kills the step seconds after SIGTERM). The next segment must
    delete it and replay its rows, so `wandb sync` uploads every epoch exactly once."""
    run_dir = tmp_path / "run"
    run(make_cfg(*OFFLINE, "train.epochs=40"), run_dir, progress=False)
    (first,) = (run_dir / "wandb").glob("offline-run-*")
    run_id = (run_dir / "wandb_id").read_text().strip()
    partial = first.with_name(f"offline-run-20000101_000000-{run_id}")
    shutil.copytree(first, partial)
    wandb_file = next(partial.glob("*.wandb"))
    wandb_file.write_bytes(wandb_file.read_bytes()[:3000])  # cut mid-write

    run(make_cfg(*OFFLINE, "train.epochs=60"), run_dir, progress=False)  # the next segment

    assert not partial.exists()
    runs = offline_runs(run_dir)
    assert [[r["epoch"] for r in o.history] for o in runs] == [[0, 10, 20, 30, 40], [50, 60]]
    assert {o.run_id for o in runs} == {run_id}
    assert runs[-1].summary["status"] == "done" and runs[-1].summary["epochs"] == 60
    logged = (run_dir / "wandb_logged_epoch").read_text().split()
    assert logged[0] == "60" and len(logged) == 3  # the epoch, then both complete runs


def test_a_configured_key_without_network_costs_one_bounded_wait(tmp_path):
    """A compute node with a W&B key but no route out: the server is asked once per process
    (logger.init_timeout), then every member of the pack logs offline, with one warning."""
    import socket
    import time

    from tests.conftest import launch

    blackhole = socket.socket()  # accepts connections (kernel backlog), never answers
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(16)
    env = {
        "WANDB_API_KEY": "x" * 40,
        "WANDB_BASE_URL": f"http://127.0.0.1:{blackhole.getsockname()[1]}",
    }
    start = time.monotonic()
    proc = launch(
        "-m", *OFFLINE, "logger.mode=auto", "logger.init_timeout=2", "model.seed=0,1",
        "train.epochs=20", cwd=tmp_path, env=env,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    blackhole.close()
    assert (proc.stdout + proc.stderr).count("did not answer within 2 s") == 1
    assert elapsed < 45, elapsed  # not 2 x wandb's own 90 s init timeout
    runs = sorted(p.parent for p in tmp_path.glob("multirun/*/*/*/*/summary.json"))
    assert len(runs) == 2
    for run_dir in runs:
        (offline,) = offline_runs(run_dir)
        assert [r["epoch"] for r in offline.history] == [0, 10, 20]


def test_each_sweep_invocation_is_its_own_wandb_group_named_by_swept_values(tmp_path):
    """Two invocations of the same ad-hoc sweep used to share the W&B group 'modsub'; now
    each is its own group, every run is named by its swept values only, and the swept
    values are in the W&B config (read back from the real offline run files)."""
    from tests.conftest import launch

    args = ["-m", *OFFLINE, "train.epochs=10", "optim.wd=0.5,1.0", "model.seed=0,1"]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        launch(*args, cwd=tmp_path / name)
    groups = {}
    for name in ("a", "b"):
        runs = sorted((tmp_path / name).glob("multirun/*/*/*/*/summary.json"))
        assert len(runs) == 4
        wandb_runs = [offline_runs(r.parent)[0] for r in runs]
        (group,) = {w.group for w in wandb_runs}
        assert group.startswith("modsub-")  # the task, then the sweep dir's date and time
        groups[name] = group
        names = sorted(w.name for w in wandb_runs)
        assert names == sorted(
            f"optim.wd={wd},model.seed={seed}" for wd in ("0.5", "1.0") for seed in (0, 1)
        )
        for w in wandb_runs:
            swept = w.config["swept"]
            assert set(swept) == {"optim.wd", "model.seed"}
            assert w.name == f"optim.wd={swept['optim.wd']},model.seed={swept['model.seed']}"
            assert w.config["optim"]["wd"] == float(swept["optim.wd"])
    assert groups["a"] != groups["b"]


def test_a_finished_run_whose_mirror_was_cut_short_replays_it_on_rerun(tmp_path):
    """SLURM may kill a job after its run dir is complete but while W&B writes its offline
    run (scontrol requeue); the requeued job finds the run finished and must still leave one
    complete W&B run, without touching the run dir."""
    run_dir = tmp_path / "run"
    cfg = make_cfg(*OFFLINE, "train.epochs=20")
    run(cfg, run_dir, progress=False)
    shutil.rmtree(run_dir / "wandb")  # the kill: no complete offline run, no marker
    (run_dir / "wandb_logged_epoch").unlink()
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    run(cfg, run_dir, progress=False)
    (offline,) = offline_runs(run_dir)
    assert [r["epoch"] for r in offline.history] == [0, 10, 20]
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k != "wandb_logged_epoch"} == before
    run(cfg, run_dir, progress=False)  # once complete, a rerun writes nothing more
    assert len(offline_runs(run_dir)) == 1


def test_a_requeued_job_does_not_share_a_w_and_b_service_it_inherited(tmp_path):
    """SLURM passes the submitter's environment on, a W&B service address included when the
    sweep was started from a process that used W&B (a notebook; this test process). A segment
    killed mid-write left its run id registered in that service, and the requeued segment's
    `wandb.init` failed with "run ID ... is in use": the run dir was done, W&B had nothing
    (seen in CI under `scontrol requeue`). Each grok process must use a service of its own."""
    import os

    import wandb

    from tests.conftest import launch

    run_dir = tmp_path / "run"
    args = [*OFFLINE, "train.epochs=20", f"hydra.run.dir={run_dir}"]
    launch(*args, cwd=tmp_path)
    shutil.rmtree(run_dir / "wandb")  # the kill: no complete offline run, no marker
    (run_dir / "wandb_logged_epoch").unlink()
    run_id = (run_dir / "wandb_id").read_text().strip()
    # The killed segment's W&B run, still open in a service this process started.
    stale = wandb.init(
        id=run_id, mode="offline", dir=str(tmp_path), reinit="create_new",
        settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
    )  # fmt: skip
    try:
        assert os.environ.get("WANDB_SERVICE")  # what launch.py (and sbatch) inherit
        proc = launch(*args, cwd=tmp_path)  # the requeued segment
    finally:
        stale.finish()
    assert "is in use" not in proc.stderr
    (offline,) = offline_runs(run_dir)
    assert offline.run_id == run_id and [r["epoch"] for r in offline.history] == [0, 10, 20]

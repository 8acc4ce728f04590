"""Shared helpers: compose real Hydra configs and run launch.py as users do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# A small configuration that still learns: p=23, tiny model, a few hundred epochs.
TINY = [
    "model=tiny",
    "task.p=23",
    "task.train_frac=0.5",
    "optim.lr=1e-2",
    "train.epochs=60",
    "train.eval_every=5",
    "train.log_every=20",
    "train.checkpoint_every=20",
    "train.progress=false",
]


def make_cfg(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def launch(
    *args: str, cwd: Path, check: bool = True, timeout: int = 600, env: dict | None = None, **popen
):
    """Run ``python launch.py ARGS`` in ``cwd`` (outputs land there), like a user; ``env``
    adds to the environment."""
    env = {**os.environ, **(env or {}), "HYDRA_FULL_ERROR": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "launch.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"launch.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def start_launch(*args: str, cwd: Path, **popen) -> subprocess.Popen:
    """Start ``python launch.py ARGS`` in the background (to signal or kill it); its output
    on one pipe."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def start_run(run_dir: Path, *args: str) -> subprocess.Popen:
    """Start ``launch.py ARGS hydra.run.dir=RUN_DIR`` in the background (to signal it)."""
    return start_launch(*args, f"hydra.run.dir={run_dir}", cwd=run_dir.parent)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def read_metrics(run_dir: Path) -> list[dict]:
    with open(Path(run_dir) / "metrics.jsonl") as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def tiny_cfg():
    return lambda *extra: make_cfg(*TINY, *extra)


def learn_alone_and_fused(
    tmp_path: Path, overrides: list[str], other: list[str], exact: bool = True
) -> list[dict]:
    """Train ``overrides`` alone and as member 0 of a pack with a second config (``other``
    added); the member must match the lone run exactly (``exact``), or else to within 2%
    of each final metric; returns the lone run's metric history."""
    from grok.run import run_pack

    base = [*overrides, "train.progress=false"]
    alone = run_pack([(make_cfg(*base), tmp_path / "alone")], progress=False)[0]
    pack = [
        (make_cfg(*base), tmp_path / "m0"),
        (make_cfg(*base, *other), tmp_path / "m1"),
    ]
    packed = run_pack(pack, progress=False)
    if exact:
        assert packed[0]["final"] == alone["final"]
    else:
        for key, value in alone["final"].items():
            assert packed[0]["final"][key] == pytest.approx(value, rel=0.02, abs=1e-3), key
    assert packed[1]["final"] != alone["final"]
    return read_metrics(tmp_path / "alone")


QUICKSTART = ["experiment=quickstart", "train.progress=false"]


if os.environ.get("PYTEST_XDIST_WORKER"):
    # One torch thread per pytest-xdist worker, and in the runs it starts: a worker per core
    # with torch's default of one thread per core each would oversubscribe the cores, and
    # OpenMP's spinning threads then slow every small op several times over.
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)  # in case a plugin imported torch before this file


def _session_root(tmp_path_factory) -> Path:
    """A folder all pytest-xdist workers of this session share (the session's own basetemp
    when there are no workers)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def quickstart_alone(tmp_path_factory) -> Path:
    """The README quickstart, run as users run it (one process, one run), trained once per
    session, whichever worker asks first (a file lock): it is the one run here that groks at
    full size. Tests only read it; one that writes into a run dir works on a copy
    (shutil.copytree into its tmp_path)."""
    from filelock import FileLock

    root = _session_root(tmp_path_factory)
    run_dir = root / "quickstart" / "run"
    with FileLock(str(root / "quickstart.lock")):
        if not (run_dir / "summary.json").exists():
            shutil.rmtree(run_dir.parent, ignore_errors=True)  # a worker that failed midway
            run_dir.parent.mkdir()
            launch(*QUICKSTART, f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    return run_dir


def launch_preset(tmp_path: Path, *overrides: str) -> tuple[dict, dict]:
    """Start a preset with a short override; return its resolved config and summary."""
    import yaml

    run_dir = tmp_path / "run"
    launch(*overrides, "train.progress=false", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    return yaml.safe_load((run_dir / "config.yaml").read_text()), read_json(
        run_dir / "summary.json"
    )


@pytest.fixture
def small_disk(tmp_path):
    """A real full disk: a 1.5 MiB tmpfs (needs root, as the SLURM tests and CI do)."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


INSTALL_SLURM = ROOT / ".ci" / "install-slurm.sh"


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator:
    """One real single-node SLURM cluster for the session (tests/slurm_cluster.py); installs
    Debian's slurm-wlm and munge first where they are missing (CI runs as root)."""
    from tests.slurm_cluster import SlurmCluster, available

    ok, why = available()
    if not ok:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.fail(f"{why}; installing Slurm needs root and apt-get (see {INSTALL_SLURM})")
        proc = subprocess.run(
            ["bash", str(INSTALL_SLURM)], stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        ok, why = available()
        if not ok:
            pytest.fail(
                f"{INSTALL_SLURM.name} failed ({why}):\n{(proc.stdout + proc.stderr)[-3000:]}"
            )
    if os.geteuid() != 0:
        pytest.fail("the test cluster runs its daemons as root")
    # sbatch / squeue / sacct (and submitit, in launch.py subprocesses) need SLURM_CONF and the
    # sacct stand-in on PATH.
    with SlurmCluster() as cluster, pytest.MonkeyPatch.context() as mp:
        for key, value in cluster.env.items():
            mp.setenv(key, value)
        yield cluster


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for ``--dist loadgroup`` (``make test``): tests that share the session's SLURM
    cluster run on one worker; so do the tests of a file with a module-scoped fixture, which
    is then built once. Every other test goes wherever a worker is free. The SLURM group, the
    longest (it waits on the scheduler), is handed out first, the short single tests last, so
    the workers finish together (``--no-loadscope-reorder`` keeps this order)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    rank = {}
    for item in items:
        defs = item._fixtureinfo.name2fixturedefs.values()
        if item.get_closest_marker("slurm") or "slurm_cluster" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("slurm"))
            rank[item.nodeid] = 0
        elif any(d[-1].scope == "module" for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
            rank[item.nodeid] = 1
        else:  # the long single tests (marked) before the short ones
            slow = item.get_closest_marker("slow") or item.get_closest_marker("e2e")
            rank[item.nodeid] = 2 if slow else 3
    items.sort(key=lambda item: rank[item.nodeid])

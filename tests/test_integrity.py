"""A run dir never lies and never loses data (each case of issue 13, as users hit it).

Real processes and signals where the case involves them: reruns, resumes with another
config, two processes on one run dir, killed runs, a full disk (a real tmpfs), torn files.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grok.store import RunStore
from tests.conftest import ROOT, TINY, launch, read_json, read_metrics, start_run

pytestmark = pytest.mark.e2e  # real processes, signals and resumes: end to end

Q = [*TINY, "train.epochs=40", "train.checkpoint_every=10", "train.eval_every=5", "logger=none"]
LONG = [
    *TINY,
    "train.epochs=3000",
    "train.checkpoint_every=50",
    "train.log_every=10",
    "logger=none",
]


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


def _same_run(rows: list[dict], reference: list[dict], boundary: int) -> None:
    """Rows equal an uninterrupted run's; the last epoch of an earlier segment (``boundary``)
    keeps the measures it got as a last epoch."""
    reference = _strip(reference)
    assert [r["epoch"] for r in rows] == [r["epoch"] for r in reference]
    for row, ref in zip(_strip(rows), reference, strict=True):
        assert ref.items() <= row.items(), row["epoch"]
        assert row == ref or row["epoch"] == boundary


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run dir but Hydra's own (.hydra/, the log) and the lock."""
    skip = (".hydra", "launch.log", ".grok.lock")
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and not str(p.relative_to(run_dir)).startswith(skip)
    }


def _start(run_dir: Path, *extra: str) -> subprocess.Popen:
    return start_run(run_dir, *LONG, *extra)


def _wait_for_rows(run_dir: Path, proc: subprocess.Popen, n: int = 3, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        path = run_dir / "metrics.jsonl"
        if path.exists() and path.read_text().count("\n") >= n:
            return
        time.sleep(0.05)
    raise TimeoutError("the run wrote no rows")


# 1. a finished run is never wiped -------------------------------------------------------------
def test_fewer_epochs_on_a_finished_run_is_refused_and_nothing_changes(tmp_path):
    run_dir = tmp_path / "X"
    launch(*Q, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    before = _snapshot(run_dir)
    proc = launch(*Q, "train.epochs=10", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "train.epochs=10" in proc.stderr and "already trained 40 epochs" in proc.stderr
    assert "train.resume=false" in proc.stderr and "Traceback" not in proc.stderr
    assert _snapshot(run_dir) == before
    # the same command again changes nothing, summary included
    launch(*Q, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert _snapshot(run_dir) == before


def test_raising_epochs_continues_a_finished_run_exactly(tmp_path):
    short, whole = tmp_path / "short", tmp_path / "whole"
    launch(*Q, f"hydra.run.dir={short}", cwd=tmp_path)
    first_rows = read_metrics(short)
    launch(*Q, "train.epochs=60", f"hydra.run.dir={short}", cwd=tmp_path)
    launch(*Q, "train.epochs=60", f"hydra.run.dir={whole}", cwd=tmp_path)
    rows = read_metrics(short)
    assert rows[: len(first_rows)] == first_rows  # nothing rewritten
    _same_run(rows, read_metrics(whole), boundary=40)
    summary = read_json(short / "summary.json")
    assert summary["epochs"] == 60 and summary["status"] == "done"
    assert [s["start_epoch"] for s in summary["segments"]] == [0, 40]
    assert summary["segments"][1]["changed"]["train.epochs"] == [40, 60]


# 2. a resume never mixes two configs ----------------------------------------------------------
def test_resume_with_another_config_is_refused_and_config_yaml_stays(tmp_path):
    run_dir = tmp_path / "L"
    proc = _start(run_dir)
    _wait_for_rows(run_dir, proc, n=12)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert read_json(run_dir / "summary.json")["status"] == "interrupted"
    config = (run_dir / "config.yaml").read_bytes()
    before = _snapshot(run_dir)
    for override, shown in (
        ("optim.lr=1e-3", "optim.lr: 0.01 (run dir) -> 0.001 (now)"),
        ("model.d_mlp=256", "model.d_mlp: 64 (run dir) -> 256 (now)"),
        ("optim.schedule=cosine", "optim.schedule: 'constant' (run dir) -> 'cosine' (now)"),
    ):
        proc = launch(*LONG, override, f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
        assert proc.returncode == 2, proc.stderr
        assert "it was trained with a different config" in proc.stderr and shown in proc.stderr
        assert "hydra.run.dir=<new dir>" in proc.stderr and "train.resume=false" in proc.stderr
        assert (run_dir / "config.yaml").read_bytes() == config
        assert _snapshot(run_dir) == before
    # runtime and bookkeeping keys may change: the resume goes through (to epoch 300, not
    # 3000: train.epochs may change too, and the SIGTERM came at epoch ~55)
    launch(*LONG, "train.epochs=300", "hardware.threads=1", "train.progress=false",
           f"hydra.run.dir={run_dir}", cwd=tmp_path)  # fmt: skip
    assert read_json(run_dir / "summary.json")["status"] == "done"


def test_cosine_schedule_cannot_change_its_length(tmp_path):
    run_dir = tmp_path / "C"
    launch(*Q, "optim.schedule=cosine", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    proc = launch(
        *Q, "optim.schedule=cosine", "train.epochs=60", f"hydra.run.dir={run_dir}",
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "optim.schedule=cosine" in proc.stderr


# 3. one process per run dir; one sweep dir per invocation ----------------------------------
def test_a_second_process_on_a_run_dir_is_refused_and_a_stale_lock_is_not(tmp_path):
    run_dir = tmp_path / "busy"
    holder = _start(run_dir)
    _wait_for_rows(run_dir, holder)
    second = launch(*LONG, f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert second.returncode == 2
    assert f"in use by another grok process (pid {holder.pid}" in second.stderr
    holder.send_signal(signal.SIGKILL)  # a killed job leaves its lock file behind
    holder.wait(timeout=30)
    assert (run_dir / ".grok.lock").exists()
    launch(*LONG, "train.epochs=3000", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    rows = read_metrics(run_dir)
    epochs = [r["epoch"] for r in rows]
    assert epochs == sorted(set(epochs))  # every epoch once
    assert read_json(run_dir / "summary.json")["status"] == "done"


def test_two_sweeps_with_one_sweep_dir_template_get_their_own_dirs(tmp_path):
    """Two invocations whose sweep dir resolves to the same path (as two sweeps started in
    the same second do with the default template) each get a dir of their own."""
    conf = tmp_path / "extra" / "experiment"
    conf.mkdir(parents=True)
    (conf / "fixed_dir.yaml").write_text(
        "# @package _global_\nhydra:\n  sweep:\n    dir: multirun/fixed\n"
    )
    args = ["-m", *Q, "experiment=fixed_dir", f"hydra.searchpath=[file://{tmp_path / 'extra'}]"]
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "launch.py"), *args, "optim.wd=0.5,1.0"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    sweeps = sorted(p.name for p in (tmp_path / "multirun").iterdir())
    assert sweeps == ["fixed", "fixed_1"]
    for sweep in sweeps:
        for run in (tmp_path / "multirun" / sweep).glob("*_*"):
            epochs = [r["epoch"] for r in read_metrics(run)]
            assert epochs == sorted(set(epochs)), run


# 4. unknown keys -----------------------------------------------------------------------------
def test_plus_key_no_group_defines_is_refused(tmp_path):
    proc = launch(*Q, "+optim.weight_decay=0", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "optim.weight_decay: unknown key" in proc.stderr and "optim.wd" in proc.stderr
    assert list(tmp_path.iterdir()) == []
    launch(*Q, "+meta.owner=alice", 'notes="wd study"', "hydra.run.dir=ok", cwd=tmp_path)
    assert "owner: alice" in (tmp_path / "ok" / "config.yaml").read_text()


# 5. every exit leaves a true status; what cannot fit is refused first ----------------------
@pytest.mark.parametrize("p", [4001, 100003])
def test_a_run_that_cannot_fit_is_refused_before_anything_is_created(tmp_path, p):
    proc = launch(*Q, f"task.p={p}", cwd=tmp_path, check=False, timeout=120)
    assert proc.returncode == 2
    assert "GiB (estimate" in proc.stderr and "available RAM" in proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


def test_a_sweep_with_one_job_too_big_runs_nothing(tmp_path):
    proc = launch("-m", *Q, "task.p=47,100003", cwd=tmp_path, check=False, timeout=120)
    assert proc.returncode == 2 and "10,000,600,009 examples" in proc.stderr
    assert "nothing was launched" in proc.stderr and list(tmp_path.iterdir()) == []


def test_a_full_disk_leaves_status_failed_with_the_reason(small_disk, tmp_path):
    run_dir = small_disk / "run"
    proc = launch(
        *TINY, "model=small", "train.epochs=400", "train.checkpoint_every=10",
        "logger=none", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "failed"
    assert "disk full" in summary["failure"], summary["failure"]


def test_an_exception_in_training_is_recorded(tmp_path, monkeypatch):
    from grok.run import run
    from grok.train import stack
    from tests.conftest import make_cfg

    def no_memory(self, graph=None):
        raise MemoryError("cannot allocate 12 GiB")

    monkeypatch.setattr(stack.Stack, "train_epoch", no_memory)
    with pytest.raises(MemoryError):
        run(make_cfg(*Q), tmp_path)
    summary = read_json(tmp_path / "summary.json")
    assert summary["status"] == "failed" and summary["failure"].startswith("out of memory")


# 6. torn files ----------------------------------------------------------------------------------
def test_a_torn_metrics_line_is_dropped_on_resume_with_a_warning(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    launch(*Q, f"hydra.run.dir={whole}", cwd=tmp_path)
    launch(*Q, "train.epochs=20", f"hydra.run.dir={cut}", cwd=tmp_path)
    # an interrupted segment whose last write was cut short by a kill
    summary = read_json(cut / "summary.json")
    summary["status"] = "interrupted"
    (cut / "summary.json").write_text(json.dumps(summary))
    with open(cut / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 25, "train_loss": 0.1')
    config = (cut / "config.yaml").read_text().replace("epochs: 20", "epochs: 40")
    (cut / "config.yaml").write_text(config)
    proc = launch(*Q, f"hydra.run.dir={cut}", cwd=tmp_path)
    assert f"{cut / 'metrics.jsonl'}, line 6: incomplete last line dropped" in proc.stderr
    _same_run(read_metrics(cut), read_metrics(whole), boundary=20)


def test_a_truncated_newest_state_falls_back_to_an_older_one(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    args = [*Q, "train.keep_checkpoints=2"]
    launch(*args, f"hydra.run.dir={whole}", cwd=tmp_path)
    proc = start_run(cut, *args, "train.epochs=3000")
    _wait_for_epoch_checkpoints(cut, proc, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = RunStore(cut)
    newest = store.resumable_epochs()[-1]
    path = store.checkpoint_path("state", newest)
    path.write_bytes(path.read_bytes()[:100])
    # the kill came at epoch ~20: resuming to 200, not 3000, shows the fallback just as well
    proc = launch(*args, "train.epochs=200", "train.progress=false", f"hydra.run.dir={cut}",
                  cwd=tmp_path, check=False, timeout=600)  # fmt: skip
    assert f"{path}: cannot be read" in proc.stderr and "trying an older checkpoint" in proc.stderr
    assert proc.returncode == 0


def _wait_for_epoch_checkpoints(run_dir: Path, proc: subprocess.Popen, n: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None
        if len(RunStore(run_dir).resumable_epochs()) >= n:
            return
        time.sleep(0.05)
    raise TimeoutError


def test_reports_show_a_damaged_run_and_go_on(tmp_path):
    launch("-m", *Q, "optim.wd=0.5,1.0", cwd=tmp_path)
    runs = sorted(p.parent for p in tmp_path.glob("multirun/*/*/*/*/summary.json"))
    torn, broken = runs
    with open(torn / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 45, "tra')
    lines = (broken / "metrics.jsonl").read_text().splitlines()
    lines[2] = lines[2][:20]
    (broken / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    sweep = torn.parent
    ls = subprocess.run(
        [sys.executable, "-m", "grok.cli", "ls", str(sweep)], capture_output=True, text=True
    )
    assert ls.returncode == 0, ls.stderr
    assert "damaged" in ls.stdout and f"{broken / 'metrics.jsonl'}, line 3" in ls.stdout
    report = subprocess.run(
        [sys.executable, "-m", "grok.cli", "report", str(sweep), "--no-png"],
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stderr
    assert (sweep / "report" / "report.html").exists()


# 7. failures are signalled ----------------------------------------------------------------------
def test_a_diverged_run_stops_there_and_exits_nonzero(tmp_path):
    run_dir = tmp_path / "nan"
    proc = launch(*Q, "optim.lr=1e12", "train.log_every=5", f"hydra.run.dir={run_dir}",
                  cwd=tmp_path, check=False)  # fmt: skip
    assert proc.returncode == 1 and "diverged" in proc.stderr
    summary = read_json(run_dir / "summary.json")
    rows = read_metrics(run_dir)
    assert summary["status"] == "failed" and summary["epochs"] == rows[-1]["epoch"] < 40
    assert rows[-1]["train_loss"] is None  # strict JSON: non-finite is null


def test_files_are_strict_json(tmp_path):
    run_dir = tmp_path / "nan"
    launch(*Q, "optim.lr=1e12", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    for path in (run_dir / "summary.json", run_dir / "metrics.jsonl"):
        for line in (
            path.read_text().splitlines() if path.suffix == ".jsonl" else [path.read_text()]
        ):
            json.loads(line, parse_constant=refuse)


def test_infinite_learning_rate_is_refused(tmp_path):
    proc = launch(*Q, "optim.lr=inf", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "optim.lr=inf: must be a finite number" in proc.stderr


def test_a_sweep_with_a_failed_member_finishes_the_rest_and_exits_nonzero(tmp_path):
    proc = launch("-m", *Q, "optim.lr=1e-2,1e12", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "1 of 2 runs failed" in proc.stderr and "diverged" in proc.stderr
    summaries = [read_json(p) for p in sorted(tmp_path.glob("multirun/*/*/*/*/summary.json"))]
    assert sorted(s["status"] for s in summaries) == ["done", "failed"]


# 8. files a lab can share -------------------------------------------------------------------------
def test_files_follow_the_umask(tmp_path):
    run_dir = tmp_path / "shared"
    proc = subprocess.run(
        ["bash", "-c", f"umask 002 && exec {sys.executable} {ROOT / 'launch.py'} "
         + " ".join([*Q, f"hydra.run.dir={run_dir}"])],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for path in [run_dir / "config.yaml", run_dir / "summary.json", run_dir / "metrics.jsonl"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path
    for path in (run_dir / "checkpoints").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path

"""Run integrity, second pass (issue 22): each case as a new (or hostile) user hits it.

Real processes where the case is about processes: kill -9, two commands at once, a real
tmpfs that fills up. The bad-input fuzz list at the end is run as real ``launch.py``
processes too: each must exit 2 with one ``grok:`` message and leave nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grok.store import RunStore
from tests.conftest import ROOT, TINY, launch, read_json, read_metrics, start_run
from tests.test_integrity import (
    LONG,
    Q,
    _snapshot,
    _wait_for_epoch_checkpoints,
    _wait_for_rows,
)

pytestmark = pytest.mark.e2e  # real processes, kills and a 37-process fuzz: end to end

GROK = [sys.executable, "-m", "grok.cli"]


def grok(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([*GROK, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"grok {args} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def one_message(proc: subprocess.CompletedProcess) -> None:
    """A refusal: exit 2, grok's own message, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "grok" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One finished tiny run (checkpoints every 10 epochs, all weights kept), trained once;
    tests work on copies."""
    root = tmp_path_factory.mktemp("finished")
    launch(*Q, "hydra.run.dir=run", cwd=root)
    return root / "run"


def copy_of(run: Path, tmp_path: Path, name: str = "run") -> Path:
    target = tmp_path / name
    shutil.copytree(run, target)
    return target


def ls_status(path: Path, cwd: Path) -> list[str]:
    proc = grok("ls", str(path), "--format", "json", cwd=cwd, check=True)
    return [r["status"] for r in json.loads(proc.stdout)]


# 1. a folder grok did not make --------------------------------------------------------------
def test_a_dir_with_files_grok_did_not_write_is_refused_and_left_as_it_was(tmp_path):
    mine = tmp_path / "D"
    mine.mkdir()
    (mine / "metrics.jsonl").write_text('{"my": 1}\n')
    (mine / "summary.json").write_text('{"mine": 1}\n')
    for extra in ([], ["train.resume=false"]):
        proc = launch(*Q, *extra, f"hydra.run.dir={mine}", cwd=tmp_path, check=False)
        one_message(proc)
        assert "files grok did not write (metrics.jsonl, summary.json)" in proc.stderr
        assert sorted(os.listdir(mine)) == ["metrics.jsonl", "summary.json"]  # not even a lock
        assert (mine / "metrics.jsonl").read_text() == '{"my": 1}\n'
        assert (mine / "summary.json").read_text() == '{"mine": 1}\n'
    empty = tmp_path / "E"
    empty.mkdir()
    launch(*Q, f"hydra.run.dir={empty}", cwd=tmp_path)  # an empty dir is fine
    assert read_json(empty / "summary.json")["status"] == "done"


# 2. grok measure: its own lock, and checkpoints pruned under it -------------------------------
def test_grok_measure_holds_a_lock_so_two_calls_never_write_an_epoch_twice(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    holder = subprocess.Popen(  # another grok measure, caught mid-way
        [sys.executable, "-c",
         "import sys, time; from grok.store.lock import MEASURE_LOCK, RunLock\n"
         f"RunLock({str(run)!r}, MEASURE_LOCK).acquire(); print('held', flush=True); "
         "time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = grok("measure", str(run), cwd=tmp_path)
        one_message(busy)
        assert "another grok measure is measuring it" in busy.stderr
        assert not (run / "measures_posthoc.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    # two real calls at once: every checkpoint once, whoever got there first
    procs = [
        subprocess.Popen([*GROK, "measure", str(run)], cwd=tmp_path, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]  # fmt: skip
    codes = [p.wait(timeout=300) for p in procs]
    assert 0 in codes and set(codes) <= {0, 2}, [p.stderr.read() for p in procs]
    epochs = [r["epoch"] for r in read_metrics_file(run / "measures_posthoc.jsonl")]
    assert epochs == RunStore(run).checkpoint_epochs("weights")


def read_metrics_file(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_checkpoint_pruned_while_grok_measure_runs_is_skipped_with_one_line(finished, tmp_path):
    from grok.posthoc import KeySpec, measure_batch, plan_measure
    from grok.store.catalog import load_run

    run = copy_of(finished, tmp_path)
    work = plan_measure(run, load_run(run).config, KeySpec.parse("final"), "cpu")
    pruned = work.todo[0]
    RunStore(run).checkpoint_path("weights", pruned).unlink()  # train.keep_weights did it
    said: list[str] = []
    rows = measure_batch([(work, e) for e in work.todo[:2]], "cpu", said.append)
    assert rows[0] is None and rows[1]["epoch"] == work.todo[1]
    assert said == [
        f"grok measure: {run}: epoch {pruned} was pruned by training (train.keep_weights) "
        "before it was measured; skipped"
    ]


@pytest.mark.slow
def test_grok_measure_while_the_run_trains_and_prunes(tmp_path):
    run = tmp_path / "live"
    proc = start_run(run, *LONG, "train.checkpoint_every=10", "train.keep_weights=2")
    _wait_for_epoch_checkpoints(run, proc, 1)
    results = []
    while proc.poll() is None and len(results) < 4:
        results.append(grok("measure", str(run), cwd=tmp_path))
    proc.kill()
    proc.wait()
    assert len(results) >= 2
    for r in results:
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    epochs = [row["epoch"] for row in read_metrics_file(run / "measures_posthoc.jsonl")]
    assert epochs == sorted(set(epochs))


# 3. a finished run whose record is incomplete is damaged everywhere ---------------------------
def test_a_finished_run_without_metrics_is_damaged_everywhere(finished, tmp_path):
    import grok

    run = copy_of(finished, tmp_path)
    (run / "metrics.jsonl").unlink()
    assert ls_status(run, tmp_path) == ["damaged"]
    with pytest.warns(UserWarning, match="metrics.jsonl is missing"):
        assert grok.load_run(run).status == "damaged"
    proc = launch(*Q, f"hydra.run.dir={run}", cwd=tmp_path, check=False)
    one_message(proc)
    assert f"{run / 'metrics.jsonl'} is missing" in proc.stderr
    assert not (run / "metrics.jsonl").exists()
    # rows cut short of the epochs the summary promises: damaged too
    cut = copy_of(finished, tmp_path, "cut")
    lines = (cut / "metrics.jsonl").read_text().splitlines(keepends=True)
    (cut / "metrics.jsonl").write_text("".join(lines[:-2]))
    assert ls_status(cut, tmp_path) == ["damaged"]


# 4. "running" only while a process holds the run ---------------------------------------------
def test_a_killed_run_reads_as_interrupted_not_running(tmp_path):
    import grok

    run = tmp_path / "K"
    proc = start_run(run, *LONG)
    _wait_for_rows(run, proc, n=3)
    assert ls_status(run, tmp_path) == ["running"]  # a live process holds it
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert read_json(run / "summary.json")["status"] == "running"  # what the kill left
    assert ls_status(run, tmp_path) == ["interrupted"]
    with pytest.warns(UserWarning, match=f"no grok process holds the run .*pid {proc.pid}"):
        assert grok.load_run(run).status == "interrupted"


# 5. an environmental failure resumes; a divergence stays failed --------------------------------
def test_a_disk_full_failure_resumes_once_there_is_room(small_disk, tmp_path):
    run = small_disk / "run"
    # 150 epochs: the 1.5 MiB disk fills by epoch ~40 (model=small checkpoints are 0.2 MiB)
    args = [*TINY, "model=small", "train.epochs=150", "train.checkpoint_every=10", "logger=none"]
    first = launch(*args, f"hydra.run.dir={run}", cwd=tmp_path, check=False)
    assert first.returncode == 1
    failed = read_json(run / "summary.json")
    assert failed["status"] == "failed" and failed["failure_kind"] == "disk_full"
    resumable = RunStore(run).resumable_epochs()
    assert resumable, "the disk filled before the first checkpoint"
    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    launch(*args, "train.resume=true", f"hydra.run.dir={run}", cwd=tmp_path)
    summary = read_json(run / "summary.json")
    assert summary["status"] == "done" and summary["epochs"] == 150 and "failure" not in summary
    assert summary["segments"][-1]["start_epoch"] == resumable[-1] > 0
    epochs = [r["epoch"] for r in read_metrics(run)]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 150
    whole = tmp_path / "whole"
    launch(*args, f"hydra.run.dir={whole}", cwd=tmp_path)
    assert summary["final"] == read_json(whole / "summary.json")["final"]


def test_a_diverged_run_stays_failed_when_rerun(tmp_path):
    run = tmp_path / "div"
    args = [*Q, "optim.lr=1e12", f"hydra.run.dir={run}"]
    assert launch(*args, cwd=tmp_path, check=False).returncode == 1
    before = _snapshot(run)
    assert read_json(run / "summary.json")["failure_kind"] == "diverged"
    again = launch(*args, cwd=tmp_path, check=False)
    assert again.returncode == 1 and "diverged" in again.stderr
    assert _snapshot(run) == before


# 6. refusals with a traceback ------------------------------------------------------------------
def test_no_readable_checkpoint_is_one_line_and_a_true_status(tmp_path):
    run = tmp_path / "T"
    proc = start_run(run, *LONG)  # keep_checkpoints=1: one state file
    _wait_for_rows(run, proc, n=12)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = RunStore(run)
    for epoch in store.resumable_epochs():
        path = store.checkpoint_path("state", epoch)
        path.write_bytes(path.read_bytes()[:100])
    again = launch(*LONG, f"hydra.run.dir={run}", cwd=tmp_path, check=False)
    one_message(again)
    assert "no readable checkpoint to resume" in again.stderr
    summary = read_json(run / "summary.json")
    assert summary["status"] == "failed" and "no readable checkpoint" in summary["failure"]


def test_a_corrupt_middle_line_of_metrics_is_refused_naming_file_and_line(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[3] = '{"epoch": 15, "train_lo\n'
    (run / "metrics.jsonl").write_text("".join(lines))
    summary = read_json(run / "summary.json")
    summary["status"] = "running"  # as a kill leaves it
    (run / "summary.json").write_text(json.dumps(summary))
    before = _snapshot(run)
    proc = launch(*Q, "train.epochs=60", f"hydra.run.dir={run}", cwd=tmp_path, check=False)
    one_message(proc)
    assert f"{run / 'metrics.jsonl'}, line 4: not valid JSON" in proc.stderr
    assert _snapshot(run) == before


def test_a_second_identical_sweep_on_one_sweep_dir_is_refused(tmp_path):
    sweep = tmp_path / "S"
    args = ["-m", *LONG, "train.progress=false", "optim.wd=0.5,1.0", f"hydra.sweep.dir={sweep}"]
    first = subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        runs = []
        for _ in range(2400):
            runs = [p for p in sweep.glob("*_*") if (p / "metrics.jsonl").exists()]
            if runs or first.poll() is not None:
                break
            time.sleep(0.05)
        assert runs, first.stdout.read() if first.poll() is not None else "no rows yet"
        second = launch(*args, cwd=tmp_path, check=False)
        one_message(second)
        assert "in use by another grok process" in second.stderr
        assert "nothing was launched" in second.stderr
    finally:
        first.kill()
        first.wait()


# 7. leftovers ------------------------------------------------------------------------------------
def test_stale_temp_files_are_removed_when_a_run_starts(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    temps = [run / "checkpoints" / ".state_000040.pt.k3j_x9", run / ".summary.json.a1b2c3"]
    for t in temps:
        t.write_bytes(b"")  # what a kill -9 during a save leaves
    mine = run / "checkpoints" / ".keep"
    mine.write_text("not a temp file of grok's")
    launch(*Q, "train.epochs=50", f"hydra.run.dir={run}", cwd=tmp_path)
    assert not any(t.exists() for t in temps) and mine.exists()


def test_a_refused_sweep_removes_the_new_sweep_dir_it_was_given(tmp_path):
    outside = tmp_path / "elsewhere"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = launch("-m", *Q, "train.epochs=10,-1", f"hydra.sweep.dir={outside}/a/b",
                  cwd=cwd, check=False)  # fmt: skip
    one_message(proc)
    assert not outside.exists() and list(cwd.iterdir()) == []


# 8. accepted but suspicious: said once ---------------------------------------------------------
def test_an_eval_cadence_longer_than_the_run_and_a_batch_larger_than_the_split_are_noted(
    tmp_path,
):
    run = tmp_path / "N"
    proc = launch(*TINY, "train.epochs=50", "train.eval_every=100", "train.batch_size=100000",
                  "logger=none", f"hydra.run.dir={run}", cwd=tmp_path)  # fmt: skip
    assert "grok: note: train.eval_every=100 > train.epochs=50: only epochs 0 and 50" in proc.stderr
    assert "grok: note: train.batch_size=100000 >= the 264 training examples" in proc.stderr
    assert [r["epoch"] for r in read_metrics(run)] == [0, 50]


# the fuzz: bad inputs as a user types them -----------------------------------------------------
BAD_INPUTS = [
    # groups and keys that do not exist
    ["task=nonexistent"], ["model=huge"], ["method=nonexist"], ["optim=adamx"],
    ["hardware=tpu_pod"], ["experiment=nanda"], ["logger=tensorboard"], ["measures=all"],
    ["hydra/launcher=nope"], ["-m", "+sweep=nope"], ["-m", "task=modsub,modnope"],
    ["optim.wdd=1"], ["train.epoch=10"], ["model.d_modle=64"], ["task.pp=7"],
    ["-m", "optim.wd=1,2", "optim.wdd=3"], ["+optim.weight_decay=0"],
    # values out of range
    ["hardware.threads=-1"], ["hardware.threads=0"], ["hardware.threads=many"],
    ["hardware.device=tpu"], ["train.epochs=-5"], ["train.epochs=abc"], ["optim.lr=inf"],
    ["optim.lr=-1"], ["task.train_frac=1.5"], ["task.train_frac=0"], ["train.eval_every=0"],
    ["train.batch_size=0"], ["train.loss=hinge"], ["train.resume=maybe"],
    ["measures.names=[nope]"], ["train.checkpoint_every=0"], ["model.seed=abc"],
    ["task.op=pow"], ["task.p=4001"], ["-m", "train.epochs=10,-1"],
]  # fmt: skip


def test_every_bad_input_is_one_message_exit_2_and_nothing_written(tmp_path):
    def attempt(i_args: tuple[int, list[str]]) -> str | None:
        i, args = i_args
        cwd = tmp_path / f"case{i}"
        cwd.mkdir()
        flags = [a for a in args if a.startswith("-")]  # -m before the overrides
        rest = [a for a in args if not a.startswith("-")]
        proc = launch(*flags, *Q, *rest, cwd=cwd, check=False, timeout=180)
        problems = []
        if proc.returncode != 2:
            problems.append(f"exit {proc.returncode}")
        if "Traceback" in proc.stderr or "grok" not in proc.stderr:
            problems.append("no one-line grok message")
        if list(cwd.iterdir()):
            problems.append(f"left {[p.name for p in cwd.iterdir()]}")
        return f"{args}: {', '.join(problems)}\n{proc.stderr[-600:]}" if problems else None

    with ThreadPoolExecutor(max_workers=2) as pool:  # the CI machine has 2 cores
        failures = [f for f in pool.map(attempt, enumerate(BAD_INPUTS)) if f]
    assert not failures, "\n".join(failures)
    assert len(BAD_INPUTS) >= 35


def test_warnings_stay_quiet_for_a_healthy_finished_run(finished):
    import grok

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert grok.load_run(finished).status == "done"

"""A run and a sweep end with a closing block: where, how it ended, what to type next."""

import shlex
import signal
import subprocess

import pytest

from tests.conftest import TINY, launch, read_json, start_run
from tests.test_train import _wait_for_epoch

pytestmark = pytest.mark.e2e  # whole launch.py runs, one interrupted and resumed: end to end

ARGS = [*TINY, "logger=none", "train.epochs=300", "train.log_every=10"]


def test_a_run_ends_with_its_dir_status_and_next_commands(tmp_path):
    out = launch(*TINY, "logger=none", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path).stdout
    block = out[out.index("grok: run done") :].splitlines()
    assert block[0].endswith(": run") and "epochs 60" in block[1] and "memorized at" in block[1]
    assert block[2].startswith("  final  train_acc ") and "test_loss" in block[2]
    assert block[-1].endswith("grok report run") and "resume" not in out


def test_ctrl_c_says_how_to_resume_and_the_command_resumes(tmp_path):
    run_dir = tmp_path / "cut"
    proc = start_run(run_dir, *ARGS)
    _wait_for_epoch(run_dir, 40, proc)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT
    assert "grok: run interrupted" in out
    resume = next(line for line in out.splitlines() if line.startswith("  resume: "))
    command = shlex.split(resume.removeprefix("  resume: "))
    assert command[-1] == "hydra.run.dir=cut"
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=600)
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "done" and summary["epochs"] == 300
    assert len(summary["segments"]) == 2  # resumed, not started over


def test_a_sweep_ends_with_its_counts_and_next_commands(tmp_path):
    sweep = tmp_path / "sweep"
    out = launch(
        "-m", *TINY, "logger=none", "optim.wd=0.5,1.0", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    ).stdout
    block = out[out.index("grok: sweep of 2 runs: 2 done: sweep") :].splitlines()
    assert block[1].startswith("  grokked ") and "/2" in block[1]
    assert block[-2].endswith("grok ls sweep") and block[-1].endswith("grok report sweep")

"""The start-up estimate (grok/train/eta.py) and the bar that moves every epoch."""

from __future__ import annotations

import torch

from grok.train.eta import Estimate, duration
from tests.conftest import TINY, launch

CPU, GPU = torch.device("cpu"), torch.device("cuda")


def said(device: torch.device, *calls: tuple[int, float, bool]) -> list[str]:
    lines: list[str] = []
    estimate = Estimate(0, 1000, device, lines.append)
    for epoch, seconds, logged in calls:
        estimate.update(epoch, seconds, logged)
    return lines


def test_a_rough_line_after_a_few_seconds_then_one_at_the_first_log_interval():
    # epoch 1 ends after a 60 s step-0 measure: the rate is timed from there
    calls = [(1, 60.0, False), (2, 60.5, False), (11, 65.0, False), (20, 69.0, False)]
    lines = said(CPU, *calls, (101, 70.0, True))
    assert lines == [
        "grok: 989 epochs to go: ~8 min on this machine at 2 epochs/s",
        "grok: 899 epochs to go: ~90 s on this machine at 10 epochs/s",
    ]
    assert said(CPU, (1, 0.0, False), (101, 1.0, True), (201, 2.0, True)) == [
        "grok: 899 epochs to go: ~9 s on this machine at 100 epochs/s"
    ]  # a log interval before the first few seconds: one line only


def test_a_long_cpu_run_is_told_it_is_sized_for_a_gpu():
    (line,) = said(CPU, (1, 0.0, False), (2, 10.0, True))
    assert "~2.8 h" in line and "sized for a GPU: hardware=gpu" in line
    (line,) = said(GPU, (1, 0.0, False), (2, 10.0, True))
    assert "sized for a GPU" not in line


def test_durations_read_naturally():
    assert [duration(s) for s in (42, 600, 7200, 86400)] == ["42 s", "10 min", "2.0 h", "24 h"]


def test_a_run_with_its_bar_says_how_long_it_will_take(tmp_path):
    args = [a for a in TINY if a != "train.progress=false"]
    proc = launch(*args, "logger=none", "train.progress=true", "hydra.run.dir=run", cwd=tmp_path)
    assert "epochs to go: ~" in proc.stderr and "on this machine at" in proc.stderr
    assert "40 epochs to go" in proc.stderr  # the line at the first log interval (epoch 20)

"""Running fraction (seed 002): data, learning, preset."""

import pytest
import torch

from grok.config import problems
from grok.task import build_task
from grok.task.fraction import FractionTask
from tests.conftest import launch_preset, learn_alone_and_fused, make_cfg


def test_running_fraction_of_a_known_sequence():
    x = 23
    seq = torch.tensor([x, 0, x, 5, 1, x, x, 2, 3, 4])
    expected = [1, 1 / 2, 2 / 3, 2 / 4, 2 / 5, 3 / 6, 4 / 7, 4 / 8, 4 / 9, 4 / 10]
    assert FractionTask.running_fraction(seq, x).tolist() == pytest.approx(expected)


def test_dataset_respects_the_x_count_range():
    task = build_task(make_cfg("task=fraction", "task.x_count=[2,3]").task)
    seqs, targets = task.dataset()
    assert seqs.shape == (2000, 10) and targets.shape == (2000, 10)
    counts = (seqs == 23).sum(-1)
    assert counts.min() == 2 and counts.max() == 3
    assert torch.allclose(targets[:, -1], counts / 10)
    assert seqs.max() < 26 and seqs.min() >= 0
    seed_range = build_task(make_cfg("experiment=fraction_seed").task).dataset()[0]
    assert (seed_range == 23).sum(-1).min() == 0  # the seed's 0..5


def test_bad_parameters():
    errs = problems(make_cfg("task=fraction", "task.x_count=[3,11]"))
    assert any("task.x_count=[3, 11]" in e and "task.length=10" in e for e in errs)
    assert any(
        "task.x_token=30" in e for e in problems(make_cfg("task=fraction", "task.x_token=30"))
    )


@pytest.mark.e2e  # trains alone and in a pack to learning
def test_learns_alone_and_fused(tmp_path):
    """Test MSE ends below 0.3x its initial value."""
    small = [
        "experiment=fraction_seed",
        "train.epochs=300",
        "train.eval_every=50",
        "task.n_samples=500",
        "task.train_frac=0.5",
    ]
    rows = learn_alone_and_fused(tmp_path, small, ["model.seed=1", "optim.lr=3e-3"])
    assert rows[-1]["test_loss"] < 0.3 * rows[0]["test_loss"]
    assert rows[-1]["test_mae"] < 0.5 * rows[0]["test_mae"]


def test_fraction_seed_preset(tmp_path):
    cfg, summary = launch_preset(tmp_path, "experiment=fraction_seed", "train.epochs=2")
    m, o, t = cfg["model"], cfg["optim"], cfg["train"]
    assert (m["n_layers"], m["n_heads"], m["d_model"], m["d_mlp"]) == (2, 4, 64, 48)
    assert (m["init"], m["init_gain"], m["bias_init"]) == ("xavier_normal_packed", 2.0, "linear")
    assert (m["ln_position"], m["ln_final"], m["dropout"], m["dropout_steps"]) == (
        "post",
        False,
        0.1,
        500,
    )
    assert (o["name"], o["lr"], o["wd"]) == ("adam", 0.01, 0.1) and t["batch_size"] == 256
    assert (cfg["task"]["n_samples"], cfg["task"]["train_frac"]) == (2000, 0.3)
    assert summary["status"] == "done" and "test_mae" in summary["final"]

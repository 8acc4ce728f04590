"""Sequence reversal (seed 004): data, split, learning, preset."""

import pytest
import torch

from grok.config import problems
from grok.task import build_task
from grok.task.reversal import ReversalTask
from tests.conftest import launch_preset, learn_alone_and_fused, make_cfg


def test_reverse_plus_one():
    seq = torch.tensor([3, 2, 2, 2, 1, 2, 0, 0])
    assert ReversalTask.reverse(seq, 4).tolist() == [1, 1, 3, 2, 3, 3, 3, 0]


def test_dataset_is_every_sequence_with_bos_and_shifted_outputs():
    task = build_task(make_cfg("task=reversal").task)
    x, y = task.dataset()
    assert x.shape == (65536, 16) and y.shape == (65536, 8)
    assert task.d_vocab == 5 and task.read_pos == slice(8, 16)
    row = 3 * 4**7 + 2 * 4**6 + 2 * 4**5 + 2 * 4**4 + 1 * 4**3 + 2 * 4**2  # [3,2,2,2,1,2,0,0]
    assert x[row].tolist() == [4, 3, 2, 2, 2, 1, 2, 0, 0, 1, 1, 3, 2, 3, 3, 3]
    assert y[row].tolist() == [1, 1, 3, 2, 3, 3, 3, 0]
    assert (x[:, 9:] == y[:, :-1]).all()  # teacher forcing: position i reads y_{i-9}


def test_sequential_split_reproduces_seed_004_and_random_is_default():
    seq = build_task(make_cfg("experiment=reversal_seed").task).split(65536)
    assert seq.train.tolist() == list(range(60000))
    rand = build_task(make_cfg("task=reversal").task).split(65536)
    assert rand.train[:100].max() > 60000  # not one corner of the input space


def test_bad_parameters():
    errs = problems(make_cfg("task=reversal", "task.length=0", "task.vocab=1"))
    assert any("task.length=0" in e for e in errs) and any("task.vocab=1" in e for e in errs)
    assert any(
        "task.split='corner'" in e for e in problems(make_cfg("task=reversal", "task.split=corner"))
    )


@pytest.mark.e2e  # trains alone and in a pack to learning
def test_learns_alone_and_fused(tmp_path):
    """Minibatch training: test loss ends below 0.1x its initial (~log 5).

    Not bitwise: with a 5-token vocabulary the embedding gradient is a 5-row matmul, for
    which torch's CPU bmm picks a different kernel once a pack has two members, so the
    member and the lone run differ by float32 rounding each step. They must still agree
    to 2% on every final metric (measured: ~1e-8 relative)."""
    small = [
        "experiment=reversal_seed",
        "task.length=4",
        "task.split=random",
        "task.train_frac=0.8",
        "model.d_model=16",
        "model.d_head=8",
        "model.d_mlp=32",
        "train.batch_size=64",
        "train.epochs=40",
        "optim.warmup_steps=12",
        "train.eval_every=10",
        "train.log_every=10",
        "train.checkpoint_every=40",
    ]
    rows = learn_alone_and_fused(tmp_path, small, ["model.seed=1", "optim.lr=1e-3"], exact=False)
    assert rows[-1]["test_loss"] < 0.1 * rows[0]["test_loss"]
    assert rows[-1]["test_seq_acc"] > 0.9


def test_reversal_seed_preset(tmp_path):
    cfg, summary = launch_preset(tmp_path, "experiment=reversal_seed", "train.epochs=1")
    m, o, t = cfg["model"], cfg["optim"], cfg["train"]
    assert (m["n_layers"], m["d_model"], m["d_head"], m["n_heads"], m["d_mlp"]) == (2, 4, 2, 1, 16)
    assert m["normalization"] == "LN"
    assert (o["name"], o["lr"], o["clip_grad_norm"], o["schedule"]) == (
        "adamw",
        6e-3,
        1.0,
        "cosine",
    )
    assert (o["warmup_steps"], o["warmup_offset"], o["schedule_unit"]) == (5, 1, "epoch")
    assert o["cosine_peak"] == 1.3 and t["batch_size"] == 256
    assert cfg["task"]["split"] == "sequential"
    assert summary["status"] == "done" and summary["epochs"] == 1

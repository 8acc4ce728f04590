"""Modular subtraction data and split."""

import torch

from grok.task import build_task
from grok.task.modular import is_prime
from tests.conftest import make_cfg


def test_modsub_dataset_is_all_pairs_with_equals_token():
    task = build_task(make_cfg("task.p=7").task)
    x, y = task.dataset()
    assert x.shape == (49, 3) and y.shape == (49, 1)
    assert task.d_vocab == 8 and task.d_vocab_out == 7 and task.n_ctx == 3
    for (a, b, eq), label in zip(x.tolist(), y[:, 0].tolist(), strict=True):
        assert eq == 7
        assert label == (a - b) % 7


def test_split_reproduces_seed_001():
    """Seed 001 printed its first training samples for p=113, seed 598, 30% train."""
    task = build_task(make_cfg().task)
    x, y = task.dataset()
    split = task.split(len(x))
    assert len(split.train) == 3830 and len(split.test) == 8939
    assert x[split.train[:5], :2].tolist() == [[21, 31], [30, 98], [47, 10], [86, 21], [99, 83]]
    assert y[split.train[:5], 0].tolist() == [103, 45, 37, 65, 16]
    assert x[split.test[:2], :2].tolist() == [[43, 40], [31, 42]]
    assert set(split.train.tolist()).isdisjoint(split.test.tolist())


def test_split_depends_on_data_seed():
    a = build_task(make_cfg("task.p=11", "task.data_seed=1").task).split(121)
    b = build_task(make_cfg("task.p=11", "task.data_seed=2").task).split(121)
    assert not torch.equal(a.train, b.train)


def test_is_prime():
    assert [n for n in range(30) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]

"""The modular family: every operation's data, the seed-001 split, learning, validation."""

import pytest
import torch

from grok.config import problems
from grok.task import build_task
from grok.task.modular import OPERATIONS, is_prime
from tests.conftest import learn_alone_and_fused, make_cfg

PYTHON_OPS = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
    "div": lambda a, b, p: next(c for c in range(p) if (c * b) % p == a),
    "x2+y2": lambda a, b, p: (a**2 + b**2) % p,
    "x2+xy+y2": lambda a, b, p: (a**2 + a * b + b**2) % p,
    "x3+xy": lambda a, b, p: (a**3 + a * b) % p,
}


@pytest.mark.parametrize("op", sorted(PYTHON_OPS))
def test_every_op_matches_python_arithmetic_on_all_pairs(op):
    task = build_task(make_cfg("task=modular", f"task.op={op}", "task.p=7").task)
    x, y = task.dataset()
    expected = [(a, b) for a in range(7) for b in range(7) if op != "div" or b != 0]
    assert [tuple(r[:2]) for r in x.tolist()] == expected
    assert (x[:, 2] == 7).all()
    assert y[:, 0].tolist() == [PYTHON_OPS[op](a, b, 7) for a, b in expected]


def test_div_never_divides_by_zero_and_big_primes_stay_exact():
    task = build_task(make_cfg("task=moddiv", "task.p=113").task)
    x, y = task.dataset()
    assert len(x) == 113 * 112 and (x[:, 1] != 0).all()
    assert ((y[:, 0] * x[:, 1]) % 113 == x[:, 0]).all()


def test_random_table_is_a_seeded_function_of_the_pair():
    a = build_task(make_cfg("task=modular", "task.op=rand", "task.p=11").task).dataset()[1]
    b = build_task(make_cfg("task=modular", "task.op=rand", "task.p=11").task).dataset()[1]
    c = build_task(make_cfg("task=modular", "task.op=rand", "task.p=11", "task.table_seed=1").task)
    assert torch.equal(a, b) and not torch.equal(a, c.dataset()[1])
    assert set(OPERATIONS) == {*PYTHON_OPS, "rand"}


def test_shorthands_and_names():
    for op in ("add", "sub", "mul", "div"):
        cfg = make_cfg(f"task=mod{op}")
        assert cfg.task.op == op and cfg.task.name == f"mod{op}"
    assert make_cfg("task=modular", "task.op=mul").task.name == "modmul"


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


def test_split_depends_on_data_seed_and_can_be_sequential():
    a = build_task(make_cfg("task.p=11", "task.data_seed=1").task).split(121)
    b = build_task(make_cfg("task.p=11", "task.data_seed=2").task).split(121)
    assert not torch.equal(a.train, b.train)
    seq = build_task(make_cfg("task.p=11", "task.split=sequential").task).split(121)
    assert seq.train.tolist() == list(range(36))


def test_is_prime():
    assert [n for n in range(30) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("task.op=pow", "task.op='pow': allowed operations"),
        ("task.p=91", "task.p=91: must be a prime"),
    ],
)
def test_bad_parameters(override, message):
    assert any(message in e for e in problems(make_cfg("task=modular", override)))


TEST_SIZE = [
    "model=tiny",
    "task=modular",
    "task.p=23",
    "task.train_frac=0.8",
    "optim.lr=1e-2",
    "train.epochs=400",
    "train.eval_every=50",
    "train.checkpoint_every=400",
]


@pytest.mark.e2e  # trains alone and in a pack to learning
@pytest.mark.parametrize("op", ["add", "sub", "mul", "x2+y2"])
def test_learns_alone_and_fused(tmp_path, op):
    """Test loss ends below half its initial value (~log 23 = 3.1); fused == alone."""
    rows = learn_alone_and_fused(tmp_path, [*TEST_SIZE, f"task.op={op}"], ["task.op=rand"])
    assert rows[-1]["test_loss"] < 0.5 * rows[0]["test_loss"]
    assert rows[-1]["train_acc"] > 0.9


@pytest.mark.e2e  # trains alone and in a pack to learning
def test_random_table_control_does_not_generalize(tmp_path):
    rows = learn_alone_and_fused(tmp_path, [*TEST_SIZE, "task.op=rand"], ["model.seed=1"])
    assert rows[-1]["train_acc"] == 1.0 and rows[-1]["test_loss"] > rows[0]["test_loss"]

"""task=sparse_parity (Barak et al. 2022): data, seeding, bad values, the parity measures."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from grok.measures.parity import bit_weights, relevant_weight_frac
from grok.model import build_model, model_config
from grok.report.representations import hidden_progress
from grok.store import load_run
from grok.task import ParityTask, build_task
from tests.conftest import make_cfg, read_metrics


def parity_task(**extra) -> ParityTask:
    cfg = {"name": "sparse_parity", "n_bits": 10, "k": 3, "subset_seed": 0, "n_samples": 500}
    cfg |= {"train_frac": 0.5, "data_seed": 0, "split": "random"}
    return ParityTask(OmegaConf.create({**cfg, **extra}))


def test_labels_are_the_parity_of_the_relevant_bits():
    task = parity_task()
    x, y = task.dataset()
    assert x.shape == (500, 10) and y.shape == (500, 1) and set(x.unique().tolist()) == {0, 1}
    assert len(task.relevant) == 3 and list(task.relevant) == sorted(set(task.relevant))
    expected = torch.zeros(500, dtype=torch.long)
    for j in task.relevant:
        expected ^= x[:, j]
    assert torch.equal(y[:, 0], expected)
    others = [j for j in range(10) if j not in task.relevant]  # flipping one changes nothing
    flipped = x.clone()
    flipped[:, others[0]] ^= 1
    assert torch.equal(task.labels(flipped), y[:, 0])
    flipped[:, task.relevant[0]] ^= 1
    assert torch.equal(task.labels(flipped), 1 - y[:, 0])


def test_null_n_samples_enumerates_every_string():
    task = parity_task(n_bits=6, n_samples=None)
    x, y = task.dataset()
    assert task.n_examples == 64 and len({tuple(r) for r in x.tolist()}) == 64
    assert int(y.sum()) == 32  # a parity of k >= 1 bits is balanced over the cube


def test_sampling_subset_and_split_are_seeded():
    a, b = parity_task(), parity_task()
    assert torch.equal(a.dataset()[0], b.dataset()[0]) and a.relevant == b.relevant
    assert torch.equal(a.split(500).train, b.split(500).train)
    assert not torch.equal(a.dataset()[0], parity_task(data_seed=1).dataset()[0])
    assert parity_task(data_seed=1).relevant == a.relevant  # the subset has its own seed
    subsets = {parity_task(subset_seed=s).relevant for s in range(6)}
    assert len(subsets) > 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task.k=21"], "task.k=21: must be an integer in [1, task.n_bits=20]"),
        (["task.k=0"], "task.k=0: must be an integer in [1, task.n_bits=20]"),
        (
            ["task.n_bits=30", "task.n_samples=null"],
            "task.n_samples=None: all 2^30 strings are too many; null needs "
            "task.n_bits <= 20, else give a number of samples",
        ),
    ],
)
def test_a_bad_value_is_one_message(overrides, message):
    from grok.config import problems

    assert problems(make_cfg("task=sparse_parity", *overrides)) == [message]


def _mlp(task: ParityTask, seed: int = 0):
    cfg = make_cfg("model=mlp", "model.mlp_embed=shared", "model.d_model=4", "model.d_mlp=16")
    model = build_model(model_config(cfg.model, task))
    model.init_weights(seed)
    return model.eval()


def test_relevant_weight_frac_is_the_relevant_bits_share_of_first_layer_weight():
    """v_j = (E[1] - E[0]) W_in_j: what bit j adds to the hidden pre-activation."""
    task = parity_task()
    model = _mlp(task)
    params = {n: p.detach() for n, p in model.named_parameters()}
    v = bit_weights(model, params)
    zero, one = torch.zeros(1, 10, dtype=torch.long), torch.zeros(1, 10, dtype=torch.long)
    one[0, 7] = 1
    pre = [
        model.blocks[0].mlp.hook_pre(model.embed(t).flatten(-2) @ params["blocks.0.mlp.W_in"])
        for t in (zero, one)
    ]
    assert torch.allclose((pre[1] - pre[0])[0].double(), v[7], atol=1e-6)
    frac = relevant_weight_frac(task, model, params)
    assert 0 <= frac <= 1
    w_in = params["blocks.0.mlp.W_in"].clone()
    d = 4
    for j in range(10):  # zero every irrelevant bit's block: all weight is on the relevant bits
        if j not in task.relevant:
            w_in[j * d : (j + 1) * d] = 0
    assert relevant_weight_frac(task, model, params | {"blocks.0.mlp.W_in": w_in}) == 1.0


def test_a_run_measures_w_dist_from_its_initial_weights(tmp_path):
    """w_dist is 0 at epoch 0 exactly (w_0 redrawn by the trainer's init) and grows after."""
    from grok.run import run_pack

    overrides = ["task=sparse_parity", "task.n_bits=10", "task.n_samples=400", "model=mlp"]
    overrides += ["model.mlp_embed=shared", "model.d_model=4", "model.d_mlp=32", "optim=sgd"]
    overrides += ["train.batch_size=32", "train.epochs=6", "train.eval_every=3"]
    overrides += ["measures.names=[weights,parity]", "measures.every=3", "train.progress=false"]
    overrides += ["logger=none"]
    run_pack([(make_cfg(*overrides), tmp_path)], progress=False)
    rows = [r for r in read_metrics(tmp_path) if "parity/w_dist" in r]
    assert [r["epoch"] for r in rows] == [0, 3, 6]
    assert rows[0]["parity/w_dist"] == 0.0 and rows[0]["parity/w_dist_l1"] == 0.0
    assert 0 < rows[1]["parity/w_dist"] < rows[2]["parity/w_dist"]
    assert all(0 <= r["parity/relevant_weight_frac"] <= 1 for r in rows)
    (figure,) = hidden_progress(load_run(tmp_path))  # the run report draws both measures
    assert [len(p.series) for p in figure.panels] == [1, 2]


def test_the_transformer_reads_parity_too(tmp_path):
    """model=tiny (a transformer, last position) trains on it; w_dist only."""
    from grok.run import run_pack

    overrides = ["task=sparse_parity", "task.n_bits=8", "task.n_samples=null", "model=tiny"]
    overrides += ["train.epochs=2", "train.eval_every=1", "measures.every=2"]
    overrides += ["measures.names=[weights,parity]"]
    overrides += ["train.progress=false", "logger=none"]
    run_pack([(make_cfg(*overrides), tmp_path)], progress=False)
    last = [r for r in read_metrics(tmp_path) if "parity/w_dist" in r][-1]
    assert last["parity/w_dist"] > 0 and "parity/relevant_weight_frac" not in last
    assert build_task(make_cfg(*overrides).task).n_examples == 256

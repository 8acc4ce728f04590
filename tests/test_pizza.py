"""Clock vs Pizza (Zhong et al. 2023): attention rate, their model variant, their measures,
checked on their released models A and B (tests/data/zhong2023)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformer_lens import ActivationCache

from grok.measures.pizza import circularity, notebook_triples, pizza_values
from grok.model import Transformer, model_config
from grok.model.zhong2023 import load_released
from grok.task import build_task
from tests.conftest import TINY, make_cfg, read_json, read_metrics

DATA = Path(__file__).parent / "data" / "zhong2023"
MODEL_A, MODEL_B = "p99zdpze5l", "l8k1hzciux"
# code/eval-main.ipynb's printed outputs for model A (its only evaluated model)
NOTEBOOK_A = {
    "distance_irrelevance": 0.17173645661473538,
    "gradient_symmetricity": 0.9936651682853699,
    "circularity": 0.9978184479185687,
}
NOTEBOOK_A_NORM = 22.854  # "l2-norm of model: 22.854"


def released(run_id: str):
    model = load_released(DATA / f"config_{run_id}.json", DATA / f"model_{run_id}.pt")
    return model, build_task(make_cfg(*model.overrides).task)


@pytest.fixture(scope="module")
def values() -> dict[str, dict[str, float]]:
    out = {}
    for run_id in (MODEL_A, MODEL_B):
        r, task = released(run_id)
        out[run_id] = pizza_values(r.model, task)
    return out


def test_model_a_reads_as_the_notebook_prints(values):
    for name, expected in NOTEBOOK_A.items():
        assert values[MODEL_A][name] == pytest.approx(expected, rel=1e-6), name
    r, _ = released(MODEL_A)
    norm = math.sqrt(sum(float((p.detach().double() ** 2).sum()) for p in r.model.parameters()))
    assert round(norm, 3) == NOTEBOOK_A_NORM


def test_model_b_reads_as_a_clock_and_a_as_a_pizza(values):
    a, b = values[MODEL_A], values[MODEL_B]
    assert a["distance_irrelevance"] < 0.3 < 0.8 < b["distance_irrelevance"]
    assert a["distance_irrelevance_max_wrong"] < 0.3 < 0.8 < b["distance_irrelevance_max_wrong"]
    assert b["gradient_symmetricity"] < 0.5 < 0.95 < a["gradient_symmetricity"]
    assert b["gradient_symmetricity_all"] < 0.5 < 0.95 < a["gradient_symmetricity_all"]
    assert a["circularity"] > 0.995 and b["circularity"] > 0.995  # the paper's filter


def test_notebook_triples_are_pythons_shuffle_of_all_triples():
    triples = notebook_triples(5, n=125)
    assert len({tuple(t) for t in triples.tolist()}) == 125  # a permutation of all 5^3
    assert notebook_triples(5).tolist() == triples[:100].tolist()


def test_circularity_is_one_for_a_circle_and_low_for_noise():
    p, t = 31, torch.arange(31, dtype=torch.float64)

    def circle(freq: int, radius: float) -> list[torch.Tensor]:
        angle = 2 * math.pi * freq * t / p
        return [radius * angle.cos(), radius * angle.sin()]

    w_e = torch.stack([*circle(5, 1.0), *circle(11, 0.5)], dim=1)  # [p, 4]: the 4 PCs
    assert circularity(w_e, p) == pytest.approx(1.0, abs=1e-9)
    noise = torch.randn(p, 16, generator=torch.Generator().manual_seed(0))
    assert circularity(noise, p) < 0.6


def test_attention_rate_mixes_the_pattern_that_hooks_and_the_cache_show():
    cfg = make_cfg(*TINY, "model.attn_rate=0.3", "model.causal=false")
    task = build_task(cfg.task)
    model = Transformer(model_config(cfg.model, task))
    model.init_weights(0)
    tokens = task.dataset()[0][:5]
    _, cache = model.run_with_cache(tokens)
    assert isinstance(cache, ActivationCache)
    scores = cache["attn_scores", 0]
    expected = 0.3 * scores.softmax(-1) + 0.7  # code/train-main.py: not renormalised
    torch.testing.assert_close(cache["pattern", 0], expected)
    assert not torch.allclose(expected.sum(-1), torch.ones(()))
    constant = make_cfg(*TINY, "model.attn_rate=0", "model.causal=false")
    model = Transformer(model_config(constant.model, task))
    model.init_weights(0)
    _, cache = model.run_with_cache(tokens)
    assert torch.equal(cache["pattern", 0], torch.ones_like(cache["pattern", 0]))  # model A


def test_a_causal_model_keeps_future_keys_at_zero_under_any_rate():
    cfg = make_cfg(*TINY, "model.attn_rate=0.5")
    task = build_task(cfg.task)
    model = Transformer(model_config(cfg.model, task))
    model.init_weights(0)
    _, cache = model.run_with_cache(task.dataset()[0][:4])
    pattern = cache["pattern", 0]  # [batch, heads, q, k]
    visible = torch.ones(3, 3, dtype=torch.bool).tril()
    assert (pattern[..., ~visible] == 0).all() and (pattern[..., visible] > 0).all()


def test_inputs_without_eq_token_and_with_a_vocabulary_for_b():
    task = build_task(make_cfg("task=modadd", "task.p=7", "task.eq_token=false").task)
    x, y = task.dataset()
    assert (task.n_ctx, task.d_vocab, x.shape) == (2, 7, (49, 2))
    both = build_task(make_cfg("task=modadd", "task.p=7", "task.diff_vocab=true").task)
    x2, y2 = both.dataset()
    assert (both.n_ctx, both.d_vocab) == (3, 15)
    assert torch.equal(x2[:, 1], x[:, 1] + 7) and (x2[:, 2] == 14).all()
    assert torch.equal(y, y2) and both.position_names == ["a", "b", "="]


def test_their_init_scales():
    cfg = make_cfg("experiment=pizza_a")
    task = build_task(cfg.task)
    model = Transformer(model_config(cfg.model, task))
    model.init_weights(0)
    stds = {n.rsplit(".", 1)[-1]: float(p.std()) for n, p in model.named_parameters()}
    d_model, d_mlp, d_vocab = 128, 512, 59  # code/train-main.py: randn / sqrt(n)
    assert stds["W_E"] == pytest.approx(d_model**-0.5, rel=0.05)
    assert stds["W_U"] == pytest.approx(d_vocab**-0.5, rel=0.05)
    assert stds["W_in"] == pytest.approx(d_mlp**-0.5, rel=0.05)
    assert stds["W_out"] == pytest.approx(d_model**-0.5, rel=0.05)
    trainable = {n.rsplit(".", 1)[-1] for n, _ in model.named_parameters()}
    assert {"b_in", "b_out"} <= trainable and not trainable & {"b_Q", "b_O", "b_U"}


def test_the_presets_build_their_architecture():
    a, b = make_cfg("experiment=pizza_a"), make_cfg("experiment=pizza_b")
    assert (a.model.attn_rate, b.model.attn_rate) == (0.0, 1.0)
    r, task = released(MODEL_A)
    assert model_config(a.model, build_task(a.task)) == r.model.cfg
    assert task.n_ctx == build_task(a.task).n_ctx == 2


def test_the_pizza_measure_lands_in_the_metrics_and_the_sweep_report_draws_it(tmp_path):
    """Two attention rates in one fused pack: every member gets its pizza values, and the
    report draws them against the rate."""
    from grok.report.sweep import sweep_figures
    from grok.run import run_pack
    from grok.store.catalog import find_runs

    base = [*TINY, "task.p=13", "task.eq_token=false", "model.causal=false", "train.epochs=20",
            "measures.names=[pizza]", "measures.every=10"]  # fmt: skip
    cfgs = [make_cfg(*base, f"model.attn_rate={rate}") for rate in (0.0, 1.0)]
    summaries = run_pack([(c, tmp_path / str(i)) for i, c in enumerate(cfgs)], progress=False)
    assert summaries[0]["pack"]["size"] == 2
    for i in range(2):
        rows = [r for r in read_metrics(tmp_path / str(i)) if "pizza/circularity" in r]
        assert [r["epoch"] for r in rows] == [0, 10, 20]
        for name in ("distance_irrelevance", "distance_irrelevance_max_wrong", "circularity"):
            assert all(0 <= r[f"pizza/{name}"] <= 1.5 for r in rows), name
        assert all(-1 <= r["pizza/gradient_symmetricity_all"] <= 1 for r in rows)
    figures, _ = sweep_figures(find_runs(tmp_path), x="model.attn_rate")
    pizza = next(f for f in figures if f.name == "sweep_pizza")
    assert [p.xlabel for p in pizza.panels] == ["model.attn_rate"] * 2
    drawn = pizza.panels[0].series[0]
    assert drawn.x == [0.0, 1.0]
    last = read_metrics(tmp_path / "1")[-1]
    assert drawn.y[1] == last["pizza/distance_irrelevance"]


def test_import_pizza_writes_a_run_dir_that_grok_measure_and_load_run_read(tmp_path, capsys):
    import grok
    from grok.cli import main
    from grok.store import read_jsonl

    args = [str(DATA / f"config_{MODEL_A}.json"), str(DATA / f"model_{MODEL_A}.pt")]
    out = tmp_path / "A"
    assert main(["import-pizza", *args, str(out)]) == 0
    summary = read_json(out / "summary.json")
    assert summary["status"] == "imported" and summary["epochs"] == 20000
    assert summary["source"]["weights"]["sha256"].startswith("eb58a5a0")  # tests/data README
    assert main(["import-pizza", *args, str(out)]) == 2  # never over an existing run
    assert "not an empty dir" in capsys.readouterr().err
    run = grok.load_run(out)
    r, task = released(MODEL_A)
    tokens = task.dataset()[0][:7]
    assert torch.equal(run.model()(tokens), r.model(tokens))
    assert run.config.model.attn_rate == 0.0
    assert main(["measure", str(out)]) == 0
    (row,) = read_jsonl(out / "measures_posthoc.jsonl")
    assert row["pizza/distance_irrelevance"] == pytest.approx(NOTEBOOK_A["distance_irrelevance"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A"]  # no staging dir left

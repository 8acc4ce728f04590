"""model.arch=mlp (grok/model/mlp.py): Chughtai et al. 2023's MLP, built, validated, fused,
resumed, reloaded and measured like the Transformer."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from grok.model import MLPNet, build_model, model_config, task_problems
from grok.run import run_pack
from grok.store import RunStore
from grok.task import build_task
from tests.conftest import make_cfg, read_metrics

SMALL = ["model=mlp", "model.d_model=16", "model.d_mlp=32", "task=modadd", "task.p=23"]
RUN = [*SMALL, "task.train_frac=0.5", "train.epochs=12", "train.eval_every=2"]
RUN += ["train.log_every=4", "train.checkpoint_every=6", "measures.every=6"]
RUN += ["train.progress=false", "logger=none"]
OTHER = ["optim.lr=3e-3", "optim.wd=0.3", "model.seed=5", "task.train_frac=0.6"]


def _model(*overrides: str, seed: int = 0) -> tuple[MLPNet, object]:
    cfg = make_cfg(*SMALL, *overrides)
    task = build_task(cfg.task)
    model = build_model(model_config(cfg.model, task))
    model.init_weights(seed)
    return model, task


def _numbers(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in read_metrics(run_dir)]


@pytest.mark.parametrize(
    ("overrides", "shapes"),
    [
        ([], {"embed.W_x": (24, 16), "embed.W_y": (24, 16), "blocks.0.mlp.W_in": (32, 32)}),
        (
            ["model.mlp_embed=shared", "model.mlp_combine=sum", "model.n_layers=2"],
            {"embed.W_E": (24, 16), "blocks.0.mlp.W_in": (16, 32), "blocks.1.mlp.W_in": (32, 32)},
        ),
    ],
    ids=["chughtai", "shared_sum_2_layers"],
)
def test_shapes_hooks_and_the_forward_contract(overrides, shapes):
    model, task = _model(*overrides)
    params = {k: tuple(v.shape) for k, v in model.named_parameters()}
    assert params == {**shapes, "unembed.W_U": (32, 23)}  # model.bias=false: no biases
    x, _ = task.dataset()
    logits, neurons, resid = model(
        x[:7], read_pos=task.read_pos, return_neurons=True, return_resid=True
    )
    assert logits.shape == (7, 1, 23) and neurons.shape == resid.shape == (7, 1, 32)
    assert torch.equal(logits, neurons @ model.W_U)
    out, cache = model.run_with_cache(x[:7])
    layers = len([k for k in shapes if k.startswith("blocks.")])
    hooks = [f"blocks.{i}.mlp.hook_{h}" for i in range(layers) for h in ("pre", "post")]
    assert list(cache.keys()) == ["hook_embed", *hooks]
    assert cache["hook_embed"].shape == (7, 2, 16)
    assert torch.equal(cache["post", layers - 1, "mlp"], neurons[:, 0])
    assert out.shape == (7, 3, 23)  # no read_pos: the one output at every position


def test_the_equals_token_is_not_read():
    model, task = _model()
    x, _ = task.dataset()
    other = x.clone()
    other[:, 2] = 5  # '=' replaced by a residue
    assert torch.equal(model(x[:50]), model(other[:50]))
    swapped = x[:50, [1, 0, 2]]  # separate embeddings: the operands' order matters
    assert not torch.equal(model(x[:50]), model(swapped))
    short, _ = _model("task.eq_token=false")  # inputs [a, b]
    assert short.cfg.operand_pos == (0, 1) and short.cfg.n_ctx == 2


def test_chughtai_init_draws_their_numbers():
    """Their OneLayerMLP: torch.manual_seed(seed), then W_x, W_y, W, W_U as randn / sqrt(.)."""
    model, _ = _model("task.eq_token=false", "task.p=7", seed=3)
    torch.manual_seed(3)
    n, e, h = 7, 16, 32
    theirs = {
        "embed.W_x": torch.randn(n, e) / math.sqrt(e),
        "embed.W_y": torch.randn(n, e) / math.sqrt(e),
        "blocks.0.mlp.W_in": torch.randn(2 * e, h) / math.sqrt(2 * e),
        "unembed.W_U": torch.randn(h, n) / math.sqrt(h),
    }
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), theirs[name], rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task=sine"], "model.arch=mlp: reads operand tokens; task=sine gives one real number"),
        (["task=reversal"], "model.arch=mlp: predicts one output; task=reversal reads"),
        (["model.normalization=LN"], "model.normalization='LN': a transformer option"),
        (["model.attn_rate=0.5"], "model.attn_rate=0.5: a transformer option"),
        (["model.dropout=0.1"], "model.dropout=0.1: a transformer option"),
        (["model.arch=cnn"], "model.arch='cnn': allowed are ['transformer', 'mlp']"),
        (["model.mlp_embed=tied"], "model.mlp_embed='tied': allowed are ['separate', 'shared']"),
        (["model.mlp_combine=prod"], "model.mlp_combine='prod': allowed are ['concat', 'sum']"),
    ],
)
def test_bad_values_get_one_message(overrides, message):
    from grok.config import problems

    errors = problems(make_cfg("model=mlp", *overrides))
    assert len(errors) == 1 and message in errors[0], errors


def test_separate_embeddings_need_two_operands():
    three = SimpleNamespace(
        name="x", input_kind="tokens", n_ctx=3, read_pos=slice(2, 3), operand_positions=(0, 1, 2)
    )
    cfg = make_cfg("model=mlp").model
    (error,) = task_problems(cfg, three)
    assert "model.mlp_embed='separate'" in error and "has 3" in error
    cfg.mlp_embed = "shared"
    assert task_problems(cfg, three) == []


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> dict[str, Path]:
    """Each config trained alone (default measures on: weights, fourier, softmax)."""
    root = tmp_path_factory.mktemp("alone")
    out = {}
    for name, extra in (("base", []), ("other", OTHER)):
        run_pack([(make_cfg(*RUN, *extra), root / name)], progress=False)
        out[name] = root / name
    return out


def test_pack_of_mlps_equals_each_alone(alone, tmp_path):
    for fuse in ("false", "true"):
        cfgs = [make_cfg(*RUN, *extra, f"train.fuse={fuse}") for extra in ([], OTHER)]
        packed = run_pack([(c, tmp_path / fuse / str(i)) for i, c in enumerate(cfgs)], False)
        assert packed[0]["pack"]["size"] == 2
        for i, name in enumerate(("base", "other")):
            mine, theirs = _numbers(tmp_path / fuse / str(i)), _numbers(alone[name])
            if fuse == "false":  # the exact CPU path: bit for bit
                assert mine == theirs, name
                continue
            for a, b in zip(mine, theirs, strict=True):
                for key, value in b.items():
                    assert a[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (name, key)
    assert _numbers(alone["base"]) != _numbers(alone["other"])


def test_fourier_suite_runs_and_is_finite(alone):
    rows = read_metrics(alone["base"])
    measured = [r for r in rows if "fourier/restricted_loss" in r]
    assert [r["epoch"] for r in measured] == [0, 6, 12]
    for row in measured:
        for key in ("fourier/gini_embed", "fourier/gini_logit", "fourier/excluded_loss"):
            assert math.isfinite(row[key]), key
        assert "weights/total" in row and "softmax/collapse" in row
    assert measured[0]["fourier/test_loss"] == pytest.approx(rows[0]["test_loss"], rel=1e-6)


def test_resume_continues_exactly(alone, tmp_path):
    cut = tmp_path / "cut"
    run_pack([(make_cfg(*RUN, "train.epochs=6"), cut)], progress=False)
    run_pack([(make_cfg(*RUN), cut)], progress=False)  # resumes at 6
    assert _numbers(cut) == _numbers(alone["base"])
    weights = [RunStore(d).load_file("weights", 12)["model"] for d in (cut, alone["base"])]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_load_run_and_the_report_rebuild_the_mlp(alone):
    from grok import load_run

    run = load_run(alone["base"])
    model = run.model()
    assert isinstance(model, MLPNet) and model.cfg.arch == "mlp"
    saved = RunStore(alone["base"]).load_file("weights", 12)
    assert saved["model_args"]["operand_pos"] == (0, 1)
    assert all(torch.equal(p, saved["model"][k]) for k, p in model.state_dict().items())
    x, _ = run.task.dataset()
    assert model(x[:3], read_pos=run.task.read_pos).shape == (3, 1, 23)
    from grok.report.run_figures import run_figures

    names = [f.name for f in run_figures(run)]  # grok report: no attention figure
    assert "neuron_clusters" in names and "attention" not in names

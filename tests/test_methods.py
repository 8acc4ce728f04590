"""The grokking methods of 2024-2026, each against a direct implementation of its paper's
formula (hand-computed small cases first), then end to end: the methods sweep as a user
types it, and exact resume of every method's state.

That a pack whose members differ in a method's knobs equals each member trained alone is
generated from grok/keys.py by tests/test_keys.py.
"""

from __future__ import annotations

import math
from collections import deque

import pytest
import torch
from omegaconf import OmegaConf

from grok.measures.base import Examples, MemberView
from grok.measures.softmax import SoftmaxMeasure, collapsed
from grok.measures.weights import WeightMeasure
from grok.model import Transformer, model_config
from grok.optim import build_optimizer
from grok.optim.grokfast import Grokfast
from grok.optim.muon import newton_schulz
from grok.optim.orthograd import orthogonalize
from grok.store import RunStore
from grok.task import build_task
from grok.task.losses import stablemax_nll
from tests.conftest import launch, make_cfg, read_json, read_metrics

GEN = torch.Generator().manual_seed(0)


def adamw(**extra) -> dict:
    return {"name": "adamw", "lr": 1e-2, "wd": 0.0, "betas": [0.9, 0.98], **extra}


def groups(m: int, fused: bool) -> list[slice]:
    """One fused group (GPU) or one group per member (CPU), as the trainer forms them."""
    return [slice(0, m)] if fused else [slice(i, i + 1) for i in range(m)]


def filtered(members: list[dict], grads: list[torch.Tensor], fused: bool) -> list[torch.Tensor]:
    """Run gradients [M, ...] step by step through a Grokfast stage built from ``members``
    (each an ``optim.grokfast`` node)."""
    params = {"w": torch.zeros_like(grads[0])}
    stage = Grokfast.build(params, [OmegaConf.create({"grokfast": g}) for g in members])
    step = torch.zeros((), dtype=torch.float64)
    out = []
    for g in grads:
        step += 1
        parts = [stage.before({"w": g[s]}, s, step)["w"] for s in groups(len(members), fused)]
        out.append(torch.cat(parts))
    return out


# --- Grokfast (Lee et al. 2024) ------------------------------------------------------------
def reference_ema(grads: list[torch.Tensor], alpha: float, lamb: float) -> list[torch.Tensor]:
    """gradfilter_ema: the state starts as the first gradient, mu = alpha mu + (1 - alpha) g,
    g + lamb mu."""
    mu, out = None, []
    for g in grads:
        mu = g.clone() if mu is None else mu
        mu = mu * alpha + g * (1 - alpha)
        out.append(g + mu * lamb)
    return out


def reference_ma(grads: list[torch.Tensor], window: int, lamb: float) -> list[torch.Tensor]:
    """gradfilter_ma: append g, and once the window is full add lamb * its mean."""
    kept: deque = deque(maxlen=window)
    out = []
    for g in grads:
        kept.append(g)
        out.append(g + sum(kept) / window * lamb if len(kept) == window else g)
    return out


def test_grokfast_ema_hand_computed():
    # alpha 0.5, lamb 2: mu1 = 1 -> 1 + 2*1 = 3; mu2 = 0.5*1 + 0.5*3 = 2 -> 3 + 2*2 = 7
    grads = [torch.tensor([[1.0]]), torch.tensor([[3.0]])]
    got = filtered([{"kind": "ema", "alpha": 0.5, "lamb": 2.0}], grads, fused=False)
    assert [float(g) for g in got] == [3.0, 7.0]


def test_grokfast_ma_hand_computed_waits_for_a_full_window():
    # window 2, lamb 1: 1 (not full); 3 + mean(1, 3) = 5; 5 + mean(3, 5) = 9
    grads = [torch.tensor([[v]]) for v in (1.0, 3.0, 5.0)]
    got = filtered([{"kind": "ma", "window": 2, "lamb": 1.0}], grads, fused=False)
    assert [float(g) for g in got] == [1.0, 5.0, 9.0]


@pytest.mark.parametrize("fused", [False, True])
def test_grokfast_members_follow_the_reference_each_with_its_own_filter(fused):
    """Per-member kinds, alphas, lambdas and windows in one pack (a fused group mixes them);
    lamb null takes the paper's default for the kind (ema 2.0, ma 5.0)."""
    members = [
        {"kind": "ema", "alpha": 0.98, "lamb": None},
        {"kind": "ema", "alpha": 0.8, "lamb": 0.5},
        {"kind": "ma", "window": 3, "lamb": None},
        {"kind": "ma", "window": 5, "lamb": 1.5},
        {"kind": "none"},
    ]
    grads = [torch.randn(5, 4, 3, generator=GEN) for _ in range(12)]
    got = filtered(members, grads, fused)
    expected = [
        reference_ema([g[0] for g in grads], 0.98, 2.0),
        reference_ema([g[1] for g in grads], 0.8, 0.5),
        reference_ma([g[2] for g in grads], 3, 5.0),
        reference_ma([g[3] for g in grads], 5, 1.5),
        [g[4] for g in grads],
    ]
    for i, ref in enumerate(expected):
        for step, (ours, theirs) in enumerate(zip([g[i] for g in got], ref, strict=True)):
            torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6, msg=f"{i} {step}")
    assert torch.equal(got[-1][4], grads[-1][4])  # kind none: untouched, bit for bit


def test_grokfast_ma_running_sum_does_not_drift():
    """Huge early gradients leave the window; the running sum still holds the exact sum of
    the small late ones (float64: within N * 2^-53 * max|sum|), where a float32 running sum
    keeps their rounding error, larger than the late gradients themselves."""
    window, steps = 4, 2000
    grads = [torch.randn(1, 64, generator=GEN) * (1e4 if t < 50 else 1e-3) for t in range(steps)]
    params = {"w": torch.zeros(1, 64)}
    node = OmegaConf.create({"grokfast": {"kind": "ma", "window": window, "lamb": 1.0}})
    stage = Grokfast.build(params, [node])
    step = torch.zeros((), dtype=torch.float64)
    float32_sum, kept = torch.zeros(1, 64), deque(maxlen=window)
    largest = 0.0
    for g in grads:
        step += 1
        stage.before({"w": g}, slice(0, 1), step)
        float32_sum += g - (kept[0] if len(kept) == window else 0)
        kept.append(g)
        largest = max(largest, float(stage.total["w"].abs().max()))
    exact = sum(k.double() for k in kept)
    error = float((stage.total["w"] - exact).abs().max())
    assert error <= steps * 2.0**-53 * largest
    assert error < 1e-6 * float(exact.abs().mean())
    assert float((float32_sum.double() - exact).abs().mean()) > 0.1 * float(exact.abs().mean())


# --- StableMax and ⊥Grad (Prieto et al., ICLR 2025) ------------------------------------------
def test_stablemax_cross_entropy_hand_computed():
    """s(2) = 3, s(-1) = 1/2, s(0) = 1: StableMax = (2/3, 1/9, 2/9)."""
    task = build_task(make_cfg("task.p=3").task)
    logits = torch.tensor([[[2.0, -1.0, 0.0]], [[2.0, -1.0, 0.0]]])
    targets = torch.tensor([[0], [1]])
    loss = task.loss_terms(logits, targets, torch.float64, "stablemax")
    assert loss.tolist() == pytest.approx([math.log(1.5), math.log(9.0)], rel=1e-15)
    softmax = task.loss_terms(logits, targets, torch.float64)
    assert softmax.tolist() != pytest.approx(loss.tolist())  # not the softmax's


def test_stablemax_matches_the_reference_formula_and_has_finite_gradients():
    logits = (torch.randn(50, 7, generator=GEN, dtype=torch.float64) * 30).requires_grad_()
    targets = torch.randint(0, 7, (50,), generator=GEN)
    ours = stablemax_nll(logits, targets)
    x = logits.detach()  # the reference: s(x) = x + 1 or 1 / (1 - x + 1e-30), log(s / sum s)
    s = torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
    reference = -torch.log(s / s.sum(-1, keepdim=True)).gather(-1, targets[:, None])[:, 0]
    torch.testing.assert_close(ours.detach(), reference, rtol=1e-12, atol=0)
    edge = torch.tensor([[1.0, 0.0, -1.0]], dtype=torch.float64, requires_grad=True)
    stablemax_nll(edge, torch.tensor([2])).sum().backward()  # no 0 * inf in the masked branch
    assert torch.isfinite(edge.grad).all()


def test_orthograd_hand_computed_per_member():
    """w = (1, 0), g = (1, 1): g_perp = (0, 1), rescaled to ||g|| = sqrt 2. Each member
    projects on its own weights; a zero tensor (a bias at init) keeps its gradient."""
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    g = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.3, -0.4]])
    out = orthogonalize(w, g)
    root2 = math.sqrt(2)
    expected = torch.tensor([[0.0, root2], [root2, 0.0], [0.3, -0.4]])
    torch.testing.assert_close(out, expected, rtol=1e-7, atol=1e-7)


def test_orthograd_wraps_adamw_keeping_its_betas():
    """⊥AdamW == torch.optim.AdamW (betas 0.5, 0.9: their wrapper dropped betas, their issue
    #11) stepped on gradients projected by the paper's formula, per member."""
    cfgs = [adamw(betas=[0.5, 0.9], wd=0.1, orthograd=True), adamw(orthograd=False)]
    init = torch.randn(2, 6, 5, generator=GEN)
    stacked = {"w": init.clone()}
    ours = build_optimizer(stacked, [OmegaConf.create(c) for c in cfgs])
    refs = [init[i].clone().requires_grad_() for i in range(2)]
    opts = [
        torch.optim.AdamW([refs[0]], lr=1e-2, betas=(0.5, 0.9), weight_decay=0.1),
        torch.optim.AdamW([refs[1]], lr=1e-2, betas=(0.9, 0.98), weight_decay=0.0),
    ]
    for _ in range(10):
        grads = torch.randn(2, 6, 5, generator=GEN)
        ours.step({"w": grads})
        w, g = refs[0].detach().flatten(), grads[0].flatten()
        perp = g - (w @ g) / (w @ w + 1e-30) * w
        refs[0].grad = (perp * g.norm() / (perp.norm() + 1e-30)).view(6, 5)
        refs[1].grad = grads[1].clone()
        for opt in opts:
            opt.step()
    for i in range(2):
        torch.testing.assert_close(stacked["w"][i], refs[i].detach(), rtol=1e-5, atol=1e-6)


# --- Omnigrok's fixed norm (Liu et al. 2023) ----------------------------------------------
@pytest.mark.parametrize("fused", [False, True])
def test_fixed_norm_keeps_each_members_own_norm(fused):
    cfgs = [adamw(lr=0.1, fixed_norm=True), adamw(lr=0.1, fixed_norm=True, fixed_norm_value=3.0)]
    cfgs.append(adamw(lr=0.1))
    params = {"a": torch.randn(3, 4, 4, generator=GEN), "b": torch.randn(3, 7, generator=GEN)}
    params["a"][1] *= 5  # members start with different norms

    def norms() -> list[float]:
        return [
            math.sqrt(sum(float(p[i].double().square().sum()) for p in params.values()))
            for i in range(3)
        ]

    initial = norms()
    opt = build_optimizer(params, [OmegaConf.create(c) for c in cfgs])
    for _ in range(5):
        grads = {k: torch.randn(v.shape, generator=GEN) for k, v in params.items()}
        opt.step_groups([(s, {k: g[s] for k, g in grads.items()}) for s in groups(3, fused)])
    after = norms()
    assert after[0] == pytest.approx(initial[0], rel=1e-6)
    assert after[1] == pytest.approx(3.0, rel=1e-6)
    assert abs(after[2] - initial[2]) > 0.1  # without the constraint AdamW moves the norm
    saved = opt.member_state(0)  # the target is checkpointed with the member
    assert saved["stages"]["FixedNorm"]["target"] == pytest.approx(initial[0], rel=1e-12)


# --- Muon (K. Jordan 2024) ------------------------------------------------------------------
def ns_scalar(sigma: float, steps: int = 5) -> float:
    """A singular value through the quintic: sigma <- a sigma + b sigma^3 + c sigma^5."""
    a, b, c = 3.4445, -4.7750, 2.0315
    for _ in range(steps):
        sigma = a * sigma + b * sigma**3 + c * sigma**5
    return sigma


def test_newton_schulz_hand_computed_on_singular_values():
    """diag(3, 4) has Frobenius norm 5: the iteration starts from (0.6, 0.8) and maps each
    singular value through the quintic, keeping the singular vectors."""
    m = torch.tensor([[[3.0, 0.0], [0.0, 4.0]]], dtype=torch.float64)
    out = newton_schulz(m, [5])
    expected = torch.diag(torch.tensor([ns_scalar(0.6), ns_scalar(0.8)], dtype=torch.float64))
    torch.testing.assert_close(out[0], expected, rtol=1e-7, atol=1e-9)
    assert 0.5 < ns_scalar(0.6) < 1.5 and 0.5 < ns_scalar(0.8) < 1.5  # Jordan's band


def jordan_update(grad, momentum, beta=0.95, steps=5):
    """muon.py's muon_update on an nn.Linear weight [out, in], in float32 (he uses bf16)."""
    momentum.lerp_(grad, 1 - beta)
    update = grad.lerp(momentum, beta)
    a, b, c = 3.4445, -4.7750, 2.0315
    x = update.mT if update.size(-2) > update.size(-1) else update
    x = x / (x.norm() + 1e-7)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    x = x.mT if update.size(-2) > update.size(-1) else x
    return x * max(1, grad.size(-2) / grad.size(-1)) ** 0.5


def test_muon_matches_jordans_update_on_linear_layouts_and_adamw_elsewhere():
    """W_Q [heads, d_model, d_head] is the linear map d_model -> heads*d_head (nn.Linear
    weight [heads*d_head, d_model], as the TL bridge exports it); W_in [d_model, d_mlp] is
    nn.Linear [d_mlp, d_model]. Two members with different Muon settings."""
    h, d, e, mlp = 2, 8, 3, 16
    init = {
        "blocks.0.attn.W_Q": torch.randn(2, h, d, e, generator=GEN),
        "blocks.0.mlp.W_in": torch.randn(2, d, mlp, generator=GEN),
        "embed.W_E": torch.randn(2, 5, d, generator=GEN),
    }
    muon = [{"lr": 0.02, "wd": 0.01, "momentum": 0.95}, {"lr": 0.05, "wd": 0.0, "momentum": 0.8}]
    cfgs = [OmegaConf.create({**adamw(wd=0.5), "name": "muon", "muon": m}) for m in muon]
    stacked = {k: v.clone() for k, v in init.items()}
    ours = build_optimizer(stacked, cfgs)

    def linear(name, w):
        return w.permute(0, 2, 1).reshape(h * e, d) if "W_Q" in name else w.T

    refs = []
    for i in range(2):
        mats = {k: linear(k, init[k][i]).clone() for k in init if "blocks" in k}
        bufs = {k: torch.zeros_like(v) for k, v in mats.items()}
        embed = init["embed.W_E"][i].clone().requires_grad_()
        opt = torch.optim.AdamW([embed], lr=1e-2, betas=(0.9, 0.98), weight_decay=0.5)
        refs.append((mats, bufs, embed, opt))
    for _ in range(4):
        grads = {k: torch.randn(v.shape, generator=GEN) for k, v in init.items()}
        ours.step(grads)
        for i, (mats, bufs, embed, opt) in enumerate(refs):
            lr, wd, beta = muon[i]["lr"], muon[i]["wd"], muon[i]["momentum"]
            for k in mats:
                update = jordan_update(linear(k, grads[k][i]), bufs[k], beta)
                mats[k].mul_(1 - lr * wd).add_(update, alpha=-lr)
            embed.grad = grads["embed.W_E"][i].clone()
            opt.step()
    for i, (mats, _, embed, _) in enumerate(refs):
        for k, m in mats.items():
            torch.testing.assert_close(linear(k, stacked[k][i]), m, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(stacked["embed.W_E"][i], embed.detach(), rtol=1e-5, atol=1e-6)


# --- logit scale (Kumar et al. 2024) and the measures --------------------------------------
def _model(*overrides: str) -> tuple[Transformer, object]:
    cfg = make_cfg("model=tiny", "task.p=11", *overrides)
    task = build_task(cfg.task)
    model = Transformer(model_config(cfg.model, task))
    model.init_weights(0)
    return model, cfg


def test_logit_scale_multiplies_the_logits_and_one_adds_no_op():
    plain, _ = _model()
    scaled, _ = _model("model.logit_scale=2.0")
    tokens = torch.tensor([[1, 2, 11], [3, 4, 11]])
    assert "logit_scale" not in dict(plain.named_buffers())  # scale 1: no multiply at all
    assert torch.equal(scaled(tokens), 2 * plain(tokens))  # x2 is exact in floating point


def _view(model: Transformer, cfg) -> MemberView:
    task = build_task(cfg.task)
    x, y = task.dataset()
    return MemberView(
        cfg=cfg,
        task=task,
        model_cfg=model.cfg,
        params=dict(model.named_parameters()),
        train=Examples(x, y),
        test=Examples(x[:1], y[:1]),
        epoch=0,
        device=torch.device("cpu"),
    )


def test_softmax_collapse_hand_computed_and_measured():
    """exp(-200) vanishes next to 1 in float64, exp(-20) ~ 2e-9 only in float32 (resolution
    6e-8), exp(-10) ~ 5e-5 in neither."""
    logits = torch.tensor([[0.0, -200.0, -200.0], [0.0, -20.0, -20.0], [0.0, -10.0, -10.0]])
    assert collapsed(logits, torch.float64).tolist() == [True, False, False]
    assert collapsed(logits, torch.float32).tolist() == [True, True, False]
    model, cfg = _model()
    row = SoftmaxMeasure().compute(_view(model, cfg))
    assert row == {"softmax/collapse": 0.0, "softmax/collapse_float32": 0.0}  # at init
    model, cfg = _model("model.logit_scale=1e4")  # huge logits: most predictions collapse,
    row = SoftmaxMeasure().compute(_view(model, cfg))  # float32 sooner than float64
    assert 0.5 < row["softmax/collapse"] <= row["softmax/collapse_float32"] <= 1.0


def test_last_layer_norms():
    model, cfg = _model("model.n_layers=2")
    row = WeightMeasure().compute(_view(model, cfg))
    assert row["weights/last_layer"] == pytest.approx(float(model.W_U.detach().norm()), rel=1e-6)
    last = model.blocks[1].mlp.W_out
    assert row["weights/last_mlp_out"] == pytest.approx(float(last.detach().norm()), rel=1e-6)


# --- end to end -----------------------------------------------------------------------------
METHODS = ["baseline", "grokfast_ema", "grokfast_ma", "stablemax", "orthograd", "muon"]
METHODS += ["fixed_norm"]


@pytest.mark.slow
def test_methods_sweep_runs_as_typed_and_reports_the_method(tmp_path):
    """``-m +sweep=methods experiment=quickstart`` (one seed, a few epochs): every method
    learns, the method is each run's label, and grok ls shows it, not the keys it sets."""
    sweep = tmp_path / "sweep"
    launch(
        "-m",
        "+sweep=methods",
        "experiment=quickstart",
        "model.seed=0",
        "train.epochs=40",
        "measures.every=20",
        "logger=none",
        "train.progress=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    dirs = sorted(sweep.glob("[0-9]*"), key=lambda p: int(p.name.split("_")[0]))
    assert [d.name.split("method=")[1].split(",")[0] for d in dirs] == METHODS
    for d in dirs:
        rows = read_metrics(d)
        assert read_json(d / "summary.json")["status"] == "done"
        assert rows[-1]["train_loss"] < 0.9 * rows[0]["train_loss"], d.name
        assert "softmax/collapse" in rows[-1] and "weights/last_layer" in rows[-1]
    from grok.report import listing

    table = listing(sweep).splitlines()  # the keys each method sets only repeat its name
    assert (
        table[0]
        == "| run | status | method | grok_epoch | memorization_epoch | test_acc | test_loss |"
    )
    assert sorted(line.split(" | ")[2] for line in table[2:]) == sorted(METHODS)


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


@pytest.mark.parametrize(
    "extra",
    [
        ["optim.grokfast.kind=ema"],
        ["optim.grokfast.kind=ma", "optim.grokfast.window=3"],
        ["optim.orthograd=true", "optim.fixed_norm=true"],
        ["optim=muon", "optim.grokfast.kind=ma", "optim.grokfast.window=2"],
    ],
    ids=["ema", "ma", "orthograd+fixed_norm", "muon+ma"],
)
def test_every_method_resumes_exactly(extra, tmp_path):
    """Grokfast's EMA and MA ring, the fixed-norm target and Muon's momentum are
    checkpointed per member: 4 epochs + 4 resumed == 8 straight, metrics and weights."""
    from grok.run import run_pack

    base = ["model=tiny", "task.p=11", "train.eval_every=1", "train.checkpoint_every=4"]
    base += ["train.progress=false", "logger=none", "measures.names=[weights]"]
    base += ["measures.every=1", *extra]
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    run_pack([(make_cfg(*base, "train.epochs=8"), straight)], progress=False)
    run_pack([(make_cfg(*base, "train.epochs=4"), cut)], progress=False)
    run_pack([(make_cfg(*base, "train.epochs=8"), cut)], progress=False)  # resumes at 4
    assert _strip(read_metrics(cut)) == _strip(read_metrics(straight))
    assert len(read_metrics(cut)) == 9
    weights = [RunStore(d).load_file("weights", 8)["model"] for d in (straight, cut)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    states = [RunStore(d).load_file("state", 8)["optimizer"] for d in (straight, cut)]
    assert states[0].keys() == states[1].keys() and states[0]["step"] == 8


@pytest.mark.parametrize(
    "variants",
    [
        [
            [],
            ["optim.grokfast.kind=ema"],
            ["optim.grokfast.kind=ma", "optim.grokfast.window=3"],
            ["optim.orthograd=true"],
            ["optim.fixed_norm=true"],
            ["train.loss=stablemax"],
            ["model.logit_scale=2.0"],
        ],
        [
            ["optim=muon"],
            ["optim=muon", "optim.muon.ns_steps=3", "optim.muon.nesterov=false"],
            ["optim=muon", "optim.muon.lr=0.05", "optim.fixed_norm=true"],
        ],
    ],
    ids=["methods", "muon"],
)
def test_a_fused_pack_mixing_methods_agrees_with_each_lone_run(variants, tmp_path):
    """``train.fuse=true``, the GPU path, on CPU: one vmap and one optimizer group over the
    whole pack, so every stage, loss and scale picks per member with ``where``. Each member
    agrees with its lone run to float rounding (bit for bit is the CPU path's promise)."""
    from grok.run import run_pack

    base = ["model=tiny", "task.p=11", "train.epochs=10", "train.eval_every=5", "logger=none"]
    base += ["train.progress=false", "train.fuse=true", "measures.names=[weights]"]
    cfgs = [make_cfg(*base, *v) for v in variants]
    packed = run_pack([(c, tmp_path / f"p{i}") for i, c in enumerate(cfgs)], False)
    finals = []
    for i, cfg in enumerate(cfgs):
        alone = run_pack([(cfg, tmp_path / f"a{i}")], progress=False)[0]
        assert packed[i]["final"] == pytest.approx(alone["final"], rel=1e-4, abs=1e-6), i
        finals.append(alone["final"]["train_loss"])
    assert len(set(finals)) == len(finals)  # every variant changed the run


@pytest.mark.parametrize("task", ["sine", "reversal", "fraction"])
def test_methods_compose_with_every_task(task, tmp_path):
    """Muon with Grokfast MA, ⊥Grad, a fixed norm and a logit scale at once, on the tasks
    with LayerNorm, biases, scalar inputs, several read positions: the run learns."""
    from grok.run import run_pack
    from tests.test_keys import SMALL

    cfg = make_cfg(
        *SMALL[task],
        "model=tiny",
        "optim=muon",
        "optim.grokfast.kind=ma",
        "optim.grokfast.window=2",
        "optim.orthograd=true",
        "optim.fixed_norm=true",
        "model.logit_scale=0.5",
        "model.normalization=LN",
        "model.bias=true",
        "train.epochs=8",
        "train.eval_every=8",
        "train.progress=false",
        "logger=none",
    )
    run_pack([(cfg, tmp_path / "run")], progress=False)
    first, last = read_metrics(tmp_path / "run")[0], read_metrics(tmp_path / "run")[-1]
    assert math.isfinite(last["train_loss"]) and last["train_loss"] < first["train_loss"]

"""Progress measures: known answers, a real grokked run, packs, task measures, LLC."""

import math
import subprocess
import sys

import pytest
import torch

from grok.measures.fourier import (
    CyclicGroup,
    fourier_basis,
    frequency_energy,
    gini,
    key_frequencies,
    op_group,
    primitive_root,
)
from grok.measures.nanda import Chunk, nanda_measures
from grok.run import run_pack
from tests.conftest import ROOT, make_cfg, read_json, read_metrics


def planted(p: int, freqs, d: int = 128, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    j = torch.arange(p, dtype=torch.float64)
    w = noise * torch.randn(p, d, generator=g, dtype=torch.float64)
    for k in freqs:
        for wave in (torch.cos, torch.sin):
            w += torch.outer(
                wave(2 * math.pi * k * j / p), torch.randn(d, generator=g, dtype=torch.float64)
            )
    return w


def test_planted_embedding_gives_exactly_its_key_frequencies():
    energy = frequency_energy(planted(113, [3, 17, 41]))
    keys = key_frequencies(energy)
    assert (torch.nonzero(keys)[:, 0] + 1).tolist() == [3, 17, 41]
    assert gini(energy.sqrt()) > 0.8
    # folding: frequency k and p - k are one frequency
    assert (
        torch.nonzero(key_frequencies(frequency_energy(planted(113, [110]))))[:, 0] + 1
    ).tolist() == [3]


def test_energy_matches_seed_001_fourier_basis():
    w = planted(31, [4, 9])
    basis_energy = (fourier_basis(31) @ w).square().sum(-1)[1:].view(-1, 2).sum(-1)
    assert torch.allclose(frequency_energy(w), basis_energy, rtol=1e-10)


def test_random_model_has_low_gini_and_no_dominant_frequency():
    w = 0.8 / math.sqrt(128) * torch.randn(113, 128, generator=torch.Generator().manual_seed(3))
    energy = frequency_energy(w)
    assert not key_frequencies(energy).any()
    assert gini(energy.sqrt()) < 0.15


@pytest.mark.parametrize("p", [7, 11, 13])
def test_mul_and_div_reindexing_by_a_generator(p):
    g = primitive_root(p)
    assert sorted(pow(g, j, p) for j in range(p - 1)) == list(range(1, p))
    for op, python in (
        ("mul", lambda a, b: a * b % p),
        ("div", lambda a, b: a * pow(b, p - 2, p) % p),
    ):
        group = op_group(op, p)
        t = group.tokens
        ja, jb = torch.meshgrid(torch.arange(p - 1), torch.arange(p - 1), indexing="ij")
        combined = t[group.combine(ja.flatten(), jb.flatten())]
        expected = [
            python(int(t[a]), int(t[b])) for a, b in zip(ja.flatten(), jb.flatten(), strict=True)
        ]
        assert combined.tolist() == expected


def synthetic(group: CyclicGroup, keys: list[int], scale: float = 8.0):
    """Neurons cos/sin(w_k (a o b)) with W_out = I and W_U rows cos/sin(w_k c): the logits
    are sum_k scale * cos(w_k (a o b - c)) and the final residual is the neurons."""
    n = group.n
    ja, jb = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    ja, jb = ja.flatten(), jb.flatten()
    u = group.combine(ja, jb).double()
    c = torch.arange(n, dtype=torch.float64)
    neurons, rows = [], []
    for k in keys:
        w = 2 * math.pi * k / n
        neurons += [torch.cos(w * u), torch.sin(w * u)]
        rows += [scale * torch.cos(w * c), scale * torch.sin(w * c)]
    acts = torch.stack(neurons, dim=1)
    w_u = torch.zeros(len(rows), int(group.tokens.max()) + 1, dtype=torch.float64)  # p classes
    w_u[:, group.tokens] = torch.stack(rows)
    w_out = torch.eye(len(rows), dtype=torch.float64)
    return [Chunk(ja, jb, acts @ w_u, acts, acts)], w_out, w_u


@pytest.mark.parametrize(("op", "p"), [("add", 23), ("sub", 23), ("mul", 13), ("div", 13)])
def test_logits_from_the_ops_cosines_have_no_residual_and_restricted_equals_full(op, p):
    group = op_group(op, p)
    keys = [1, 4]
    chunks, w_out, w_u = synthetic(group, keys)
    train = torch.rand(group.n, group.n, generator=torch.Generator().manual_seed(0)) < 0.5
    result = nanda_measures(group, chunks, w_out, w_u, keys, train)
    assert result.residual == pytest.approx(0.0, abs=1e-6)
    assert result.residual_key == pytest.approx(0.0, abs=1e-6)
    on_keys = result.cos_sim[[k - 1 for k in keys]]
    assert float(on_keys.square().sum()) == pytest.approx(1.0, abs=1e-12)
    assert float(result.cos_sim.abs().sum() - on_keys.abs().sum()) == pytest.approx(0, abs=1e-9)
    assert result.restricted_loss == pytest.approx(result.test_loss, rel=1e-9)
    # removing the key frequencies leaves zero logits: exactly a uniform guess
    assert result.excluded_loss == pytest.approx(math.log(p), rel=1e-12)
    assert result.train_loss < 0.1
    best_frac, best = result.neuron_freq_norm.max(dim=0)
    assert best_frac.min() == pytest.approx(1.0, abs=1e-9)
    assert set((best + 1).tolist()) == set(keys)


@pytest.mark.slow
def test_grokked_quickstart_shows_nanda_progress_measures(quickstart_alone):
    rows = [r for r in read_metrics(quickstart_alone) if "fourier/gini_embed" in r]
    summary = read_json(quickstart_alone / "summary.json")
    grok = summary["grok_epoch"]
    assert grok is not None and rows[-1]["epoch"] == summary["epochs"]  # measured at the stop
    before = [r for r in rows if "fourier/restricted_loss" in r and r["epoch"] < grok]
    after = [r for r in rows if r["epoch"] >= grok + 100]
    assert after
    final = rows[-1]
    assert 1 <= final["fourier/n_key_freqs"] <= 8
    assert all(r["fourier/restricted_loss"] <= 10 * r["test_loss"] for r in after)
    assert max(r["fourier/restricted_loss"] for r in before) > 10 * final["fourier/restricted_loss"]
    pre_grok_excluded = [r["fourier/excluded_loss"] for r in before]
    assert final["fourier/excluded_loss"] > min(pre_grok_excluded)
    assert final["fourier/gini_embed"] > rows[0]["fourier/gini_embed"] + 0.2
    assert final["weights/total"] > 0 and "weights/embed" in final
    phases = summary["phases"]
    assert (
        phases["memorization_end"]
        < phases["circuit_formation_end"]
        <= grok
        <= phases["cleanup_end"]
    )


def test_measures_run_for_every_member_of_a_pack_as_they_would_alone(tmp_path):
    base = [
        "model=tiny",
        "task.p=23",
        "task.train_frac=0.8",
        "optim.lr=1e-2",
        "train.epochs=60",
        "train.eval_every=10",
        "measures.every=30",
        "train.progress=false",
        "logger=none",
    ]
    cfgs = [make_cfg(*base), make_cfg(*base, "task=modmul", "model.seed=4")]
    run_pack([(c, tmp_path / str(i)) for i, c in enumerate(cfgs)], progress=False)
    run_pack([(cfgs[1], tmp_path / "alone")], progress=False)
    rows = {
        name: [r for r in read_metrics(tmp_path / name) if "weights/total" in r]
        for name in ("0", "1", "alone")
    }
    assert [r["epoch"] for r in rows["0"]] == [0, 30, 60]
    assert "fourier/gini_embed" in rows["0"][-1] and "fourier/gini_embed" in rows["1"][-1]
    assert rows["1"] == rows["alone"] or [
        {k: v for k, v in r.items() if k != "wall_seconds"} for r in rows["1"]
    ] == [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows["alone"]]


@pytest.mark.parametrize(
    ("preset", "keys"),
    [
        ("experiment=sine_seed", ["sine/k_pc1", "sine/pos_pc1", "sine/pos_neighbor_cos"]),
        (
            "experiment=reversal_seed",
            [
                "reversal/mirror_attn_L0H0",
                "reversal/ablate_W_out_L1",
                "reversal/acc",
                "reversal/embed_cos_match",
            ],
        ),
        ("experiment=fraction_seed", ["fraction/x_attn_L0", "fraction/x_token_share"]),
    ],
)
def test_task_measures_land_in_the_metrics(tmp_path, preset, keys):
    short = [
        "train.epochs=2",
        "measures.every=1",
        "train.eval_every=1",
        "train.progress=false",
        "logger=none",
    ]
    if "sine" in preset:
        short += ["task.n_points=10", "task.n_samples=50"]
    if "reversal" in preset:
        short += ["task.length=4", "task.split=random", "task.train_frac=0.5"]
    if "fraction" in preset:
        short += ["task.n_samples=100"]
    run_pack([(make_cfg(preset, *short), tmp_path)], progress=False)
    last = read_metrics(tmp_path)[-1]
    for key in keys:
        assert key in last and math.isfinite(last[key]), key
    if "reversal" in preset:
        assert -1 <= last["reversal/ablate_W_out_L1"] <= 1  # the preset ablates weights


@pytest.mark.slow
@pytest.mark.parametrize(
    "preset",
    [
        ["experiment=quickstart", "model=tiny"],
        [
            "experiment=sine_seed",
            "task.n_points=10",
            "task.n_samples=60",
            "model.d_model=16",
            "model.d_head=4",
            "model.d_mlp=32",
        ],
        [
            "experiment=reversal_seed",
            "task.length=3",
            "task.split=random",
            "task.train_frac=0.5",
            "train.batch_size=16",
        ],
        ["experiment=fraction_seed", "task.n_samples=100", "model.d_model=16", "model.d_head=4"],
    ],
    ids=["modular", "sine", "reversal", "fraction"],
)
def test_llc_runs_on_a_checkpoint_of_each_task(tmp_path, preset):
    llc = [
        "measures.names=[llc]",
        "measures.every=5",
        "measures.llc.num_draws=20",
        "measures.llc.every_factor=1",
        "train.epochs=5",
        "train.progress=false",
        "logger=none",
    ]
    cfg = make_cfg(*preset, *llc)
    run_pack([(cfg, tmp_path)], progress=False)
    last = read_metrics(tmp_path)[-1]
    assert math.isfinite(last["llc/mean"]) and math.isfinite(last["llc/std"])


@pytest.mark.slow
def test_llc_calibration_helper_prints_its_table(tmp_path):
    run_dir = tmp_path / "run"
    from grok.run import run

    run(
        make_cfg("experiment=quickstart", "model=tiny", "train.epochs=50", "logger=none"),
        run_dir,
        False,
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grok.measures.llc",
            str(run_dir),
            "--epsilons",
            "1e-4",
            "1e-3",
            "--nbetas",
            "2",
            "10",
            "--draws",
            "10",
            "--chains",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "rows: n*beta, columns: SGLD epsilon" in lines[0]
    assert lines[-2].split()[0] == "2" and lines[-1].split()[0] == "10"
    assert all(math.isfinite(float(v)) for v in lines[-1].split()[1:])


def test_weights_are_split_by_the_module_they_live_in():
    """unembed.W_U and pos_embed.W_pos contain 'embed.' but are not the embedding."""
    from grok.measures.weights import component

    names = ["embed.W_E", "pos_embed.W_pos", "unembed.W_U", "unembed.b_U", "ln_final.w"]
    names += ["blocks.0.attn.W_Q", "blocks.0.mlp.W_in", "blocks.1.ln1.w", "embed.W_x"]
    parts = ["embed", "pos", "unembed", "unembed", "norm", "attn", "mlp", "norm", "embed"]
    assert [component(n) for n in names] == parts

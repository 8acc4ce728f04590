"""task=group (Chughtai et al. 2023): data, their split, the irreps measures, their models."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from grok.measures.irreps import irrep_values
from grok.measures.modular import fourier_values, model_forward
from grok.model import Transformer, build_model, model_config
from grok.report.representations import representations
from grok.store import load_run
from grok.task import GroupTask, build_task
from grok.task.irreps import irreps, matrix_element_basis
from tests.conftest import make_cfg, read_metrics


def group_task(name: str, **extra) -> GroupTask:
    cfg = {"name": "group", "group": name, "train_frac": 0.6, "data_seed": 1, "split": "random"}
    return GroupTask(OmegaConf.create({**cfg, "eq_token": True, "diff_vocab": False, **extra}))


def test_pairs_are_the_multiplication_table_split_as_theirs():
    """All |G|^2 pairs x major, label x·y, '=' the token |G|; the split is their
    generate_train_test_data's: torch.manual_seed(seed), then torch.randperm(|G|^2)."""
    task = group_task("S5")
    x, y = task.dataset()
    assert x.shape == (14400, 3) and task.d_vocab == 121 and task.d_vocab_out == 120
    assert torch.equal(y[:, 0], task.group.table[x[:, 0], x[:, 1]])
    assert bool((x[:, 2] == 120).all()) and torch.equal(x[:121, 1], torch.arange(121) % 120)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        theirs = torch.randperm(14400)
    split = task.split(len(y))
    assert torch.equal(split.train, theirs[:8640]) and torch.equal(split.test, theirs[8640:])


def test_a_bad_group_is_one_message_naming_what_is_allowed():
    from grok.config import problems

    errors = problems(make_cfg("task=group", "task.group=S7"))
    assert errors == ["task.group='S7': allowed are C<n> (n>=2), D<n> (n>=3), S3-S6, A4, A5"]


def _random_model(task, seed: int = 0) -> Transformer:
    """An untrained model, initialised as grok initialises a run's."""
    model = Transformer(model_config(make_cfg("model=tiny").model, task))
    model.init_weights(seed)
    return model.eval()


def test_on_a_cyclic_group_the_irreps_are_the_fourier_frequencies():
    """C_23 is modadd p=23 (same tokens, labels and order): for each frequency k, the 2-d
    irrep freq_k's trace similarity is Nanda's cos_sim[k] on centred logits (cos(w(u - c))
    sums to 0 over c), and its embedding share the Fourier energy of W_E at k."""
    group = group_task("C23")
    modular = build_task(make_cfg("task=modadd", "task.p=23").task)
    assert torch.equal(group.dataset()[0], modular.dataset()[0])
    assert torch.equal(group.dataset()[1], modular.dataset()[1])
    model = _random_model(modular)
    params = dict(model.named_parameters())
    fourier = fourier_values(modular, params, model_forward(model, modular), model)
    mine = irrep_values(group, params, model)
    with torch.no_grad():
        logits = model(modular.dataset()[0], read_pos=modular.read_pos)[:, -1].double()
    ratio = float(logits.norm() / (logits - logits.mean(-1, keepdim=True)).norm())
    w_e = params["embed.W_E"][:23].detach().double()
    for k in range(1, 12):
        trace_sim = mine[f"irreps/trace_sim/freq_{k}"]
        assert trace_sim == pytest.approx(fourier["fourier/cos_sim"][k - 1] * ratio, rel=1e-6)
        energy = fourier["fourier/embed_norms"][k - 1] ** 2 / float(w_e.pow(2).sum())
        assert mine[f"irreps/embed_x/freq_{k}"] == pytest.approx(energy, rel=1e-9)


@pytest.mark.parametrize("name", ["S4", "D6", "A4"])
def test_the_irrep_shares_of_a_matrix_add_up_to_one(name):
    """The irreps' matrix elements are an orthonormal basis of functions on G (Peter-Weyl):
    every embedding and unembedding splits into them without remainder."""
    task = group_task(name)
    model = _random_model(task)
    values = irrep_values(task, dict(model.named_parameters()), model)
    for part in ("embed_x", "embed_y", "unembed"):
        total = sum(values[f"irreps/{part}/{r}"] for r in irreps(task.group))
        assert total == pytest.approx(1.0, abs=1e-9), part
    assert all(
        -1 <= values[f"irreps/trace_sim/{r}"] <= 1 for r in irreps(task.group) if r != "trivial"
    )


def test_a_group_run_trains_packed_and_measures_its_irreps(tmp_path):
    """S3 and C6 (order 6 both) in one pack; their irreps rows land in metrics.jsonl."""
    from grok.run import run_pack

    base = ["task=group", "model=tiny", "train.epochs=20", "train.progress=false"]
    base += ["measures.names=[weights,irreps]", "measures.every=10", "logger=none"]
    cfgs = [make_cfg(*base, "task.group=S3"), make_cfg(*base, "task.group=C6")]
    summaries = run_pack([(c, tmp_path / str(i)) for i, c in enumerate(cfgs)], progress=False)
    assert [s["pack"]["size"] for s in summaries] == [2, 2]
    for i, group in enumerate(("S3", "C6")):
        rows = [r for r in read_metrics(tmp_path / str(i)) if "irreps/hidden/trivial" in r]
        assert [r["epoch"] for r in rows] == [0, 10, 20]
        names = set(irreps(group))
        assert {k.split("/")[-1] for k in rows[-1] if k.startswith("irreps/embed_x/")} == names
        assert set(rows[-1]["irreps/key_irreps"]) <= names - {"trivial"}
        (figure,) = representations(load_run(tmp_path / str(i)))
        assert [s.label for s in figure.panels[0].series] == sorted(
            names - {"trivial"}, key=list(irreps(group)).index
        )


def _their_state_dict(order: int, seed: int) -> dict[str, torch.Tensor]:
    """A state dict as their utils/models.py Transformer saves it (TransformerLens's
    HookedTransformer, 1 layer, 4 heads of 32, d_mlp 512, no LayerNorm, biases frozen at 0),
    with the x_embed / y_embed aliases their forward sets and TL's mask buffers."""
    gen = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * 0.08

    h, d, e, m, v = 4, 128, 32, 512, order + 1
    sd = {"embed.W_E": draw(v, d), "pos_embed.W_pos": draw(3, d), "unembed.W_U": draw(d, order)}
    for name in ("W_Q", "W_K", "W_V"):
        sd[f"blocks.0.attn.{name}"] = draw(h, d, e)
        sd[f"blocks.0.attn.b_{name[-1]}"] = torch.zeros(h, e)
    sd |= {"blocks.0.attn.W_O": draw(h, e, d), "blocks.0.attn.b_O": torch.zeros(d)}
    sd |= {
        "blocks.0.attn.mask": torch.ones(3, 3).tril().bool(),
        "blocks.0.attn.IGNORE": torch.tensor(-1e5),
    }
    sd |= {"blocks.0.mlp.W_in": draw(d, m), "blocks.0.mlp.b_in": torch.zeros(m)}
    sd |= {"blocks.0.mlp.W_out": draw(m, d), "blocks.0.mlp.b_out": torch.zeros(d)}
    sd |= {"unembed.b_U": torch.zeros(order)}
    return sd | {"x_embed": sd["embed.W_E"], "y_embed": sd["embed.W_E"]}


def _their_forward(sd: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """HookedTransformer's math for that model (written out here, independently of grok):
    logits at the last position."""
    x = sd["embed.W_E"][tokens] + sd["pos_embed.W_pos"]
    a = "blocks.0.attn."
    q, k, v = (torch.einsum("bpd,hde->bhpe", x, sd[a + n]) for n in ("W_Q", "W_K", "W_V"))
    scores = q @ k.transpose(-1, -2) / 32**0.5
    scores = scores.masked_fill(~sd[a + "mask"], float("-inf"))
    z = scores.softmax(-1) @ v  # [b, h, p, e]
    x = x + torch.einsum("bhpe,hed->bpd", z, sd[a + "W_O"])
    x = x + torch.relu(x @ sd["blocks.0.mlp.W_in"]) @ sd["blocks.0.mlp.W_out"]
    return (x @ sd["unembed.W_U"])[:, -1]


def test_their_model_imports_as_a_run_and_reads_as_their_forward(tmp_path):
    """A model saved as their training script saves it (state dict with the x_embed /
    y_embed aliases their forward sets) becomes a grok run dir whose model gives their
    logits; grok's values of it are computed on their split."""
    from grok.cli import main
    from grok.store import load_run

    state = _their_state_dict(6, seed=3)
    folder = tmp_path / "S3_T_seed3"
    folder.mkdir()
    torch.save(state, folder / "model.pt")
    cfg = {"lr": 0.001, "weight_decay": 1, "betas": [0.9, 0.98], "model": "Transformer"}
    cfg |= {"group": "SymmetricGroup", "group_parameter": 3, "frac_train": 0.6, "seed": 3}
    (folder / "cfg.json").write_text(json.dumps(cfg | {"num_epochs": 50000}))
    assert main(["import-chughtai", str(folder), str(tmp_path / "run")]) == 0
    run = load_run(tmp_path / "run")
    assert run.summary["status"] == "imported"
    assert run.config["task"]["group"] == "S3" and run.config["task"]["data_seed"] == 3
    x, _ = run.task.dataset()
    with torch.no_grad():
        mine = run.model()(x, read_pos=run.task.read_pos)[:, -1]
    assert torch.allclose(mine, _their_forward(state, x), rtol=1e-5, atol=1e-6)
    assert main(["import-chughtai", str(folder), str(tmp_path / "run")]) == 2  # not empty
    # grok measure: the irreps of the checkpoint, with the final model's key irreps
    assert main(["measure", str(tmp_path / "run")]) == 0
    (row,) = [json.loads(line) for line in (tmp_path / "run/measures_posthoc.jsonl").open()]
    assert row["keys"] == "final" and row["keys_used"] == row["irreps/key_irreps"]
    assert row["epoch"] == 50000 and "irreps/trace_sim/sign" in row


def test_irreps_read_the_mlp_as_their_onelayermlp():
    """model=mlp (their OneLayerMLP): embeddings are the total embeddings W_x W_in[:d] and
    W_y W_in[d:], the unembedding W_U; the shares of each still add up to one."""
    task = group_task("S4", eq_token=False)
    model = build_model(model_config(make_cfg("model=mlp").model, task))
    model.init_weights(0)
    params = dict(model.named_parameters())
    values = irrep_values(task, params, model.eval())
    w_x, w_in = params["embed.W_x"].detach().double(), params["blocks.0.mlp.W_in"].detach().double()
    total_x = w_x[:24] @ w_in[: w_x.shape[1]]
    basis = matrix_element_basis(irreps(task.group)["sign"])
    share = float((basis.T @ total_x).pow(2).sum() / total_x.pow(2).sum())
    assert values["irreps/embed_x/sign"] == pytest.approx(share, rel=1e-9)
    for part in ("embed_x", "embed_y", "unembed"):
        total = sum(values[f"irreps/{part}/{r}"] for r in irreps(task.group))
        assert total == pytest.approx(1.0, abs=1e-9), part

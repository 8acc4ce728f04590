"""The model is TransformerLens-compatible: hook names, shapes, caches, logits."""

import math

import pytest
import torch
from transformer_lens import ActivationCache

from grok.model import Transformer, TransformerConfig
from grok.model.bridge import to_transformer_bridge

NANDA = dict(n_layers=1, n_heads=4, d_model=128, d_head=32, d_mlp=512)


def nanda_model(**kw) -> Transformer:
    cfg = TransformerConfig(**{**NANDA, **kw}, d_vocab=114, d_vocab_out=113, n_ctx=3)
    model = Transformer(cfg)
    model.init_weights(999)
    return model


def tokens(n=32, p=113):
    a, b = torch.randint(0, p, (2, n))
    return torch.stack([a, b, torch.full_like(a, p)], dim=1)


def test_run_with_cache_has_tl_hook_names_and_shapes():
    model = nanda_model()
    batch = tokens(12)
    logits, cache = model.run_with_cache(batch)
    assert isinstance(cache, ActivationCache)
    assert logits.shape == (12, 3, 113)
    expected = {
        "hook_embed": (12, 3, 128),
        "hook_pos_embed": (12, 3, 128),
        "blocks.0.hook_resid_pre": (12, 3, 128),
        "blocks.0.attn.hook_q": (12, 3, 4, 32),
        "blocks.0.attn.hook_k": (12, 3, 4, 32),
        "blocks.0.attn.hook_v": (12, 3, 4, 32),
        "blocks.0.attn.hook_attn_scores": (12, 4, 3, 3),
        "blocks.0.attn.hook_pattern": (12, 4, 3, 3),
        "blocks.0.attn.hook_z": (12, 3, 4, 32),
        "blocks.0.hook_attn_out": (12, 3, 128),
        "blocks.0.hook_resid_mid": (12, 3, 128),
        "blocks.0.mlp.hook_pre": (12, 3, 512),
        "blocks.0.mlp.hook_post": (12, 3, 512),
        "blocks.0.hook_mlp_out": (12, 3, 128),
        "blocks.0.hook_resid_post": (12, 3, 128),
    }
    for name, shape in expected.items():
        assert tuple(cache[name].shape) == shape, name
    # Seed 001's shorthand lookups
    assert cache["post", 0, "mlp"].shape == (12, 3, 512)
    assert cache["pattern", 0, "attn"].shape == (12, 4, 3, 3)
    # causal: the first position attends only to itself
    assert torch.allclose(cache["pattern", 0][:, :, 0, 0], torch.ones(12, 4))


def test_weight_names_and_shapes_match_hooked_transformer():
    model = nanda_model()
    assert model.embed.W_E.shape == (114, 128) and model.W_E.shape == (114, 128)
    assert model.W_pos.shape == (3, 128)
    assert model.blocks[0].attn.W_Q.shape == (4, 128, 32)
    assert model.blocks[0].attn.W_V.shape == (4, 128, 32)
    assert model.blocks[0].attn.W_O.shape == (4, 32, 128)
    assert model.W_Q.shape == (1, 4, 128, 32) and model.W_O.shape == (1, 4, 32, 128)
    assert model.W_in.shape == (1, 128, 512) and model.W_out.shape == (1, 512, 128)
    assert model.W_U.shape == (128, 113)
    # seed 001's derived matrices work unchanged
    w_neur = model.embed.W_E[:-1] @ model.blocks[0].attn.W_V @ model.blocks[0].attn.W_O
    assert (w_neur @ model.blocks[0].mlp.W_in).shape == (4, 113, 512)


def test_init_matches_hooked_transformer_scale_and_is_seeded():
    model = nanda_model()
    std = 0.8 / math.sqrt(128)
    assert model.W_E.std().item() == pytest.approx(std, rel=0.05)
    assert model.blocks[0].mlp.W_in.std().item() == pytest.approx(std, rel=0.05)
    assert torch.count_nonzero(model.blocks[0].attn.b_Q) == 0  # frozen-at-zero biases
    assert "blocks.0.attn.b_Q" not in dict(model.named_parameters())
    assert torch.equal(nanda_model().W_E, model.W_E)
    other = Transformer(model.cfg)
    other.init_weights(1000)
    assert not torch.equal(other.W_E, model.W_E)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"normalization_type": "LN", "n_layers": 2, "bias": True},
        {"logit_scale": 3.0},  # the export folds it into the unembedding
    ],
    ids=["nanda", "2layer-LN-bias", "logit-scale"],
)
def test_logits_equal_transformer_bridge_with_same_weights(kw):
    torch.manual_seed(0)
    model = nanda_model(**kw)
    with torch.no_grad():  # make biases and LN parameters non-trivial
        for name, p in model.named_parameters():
            if name.rsplit(".", 1)[-1] in ("b_Q", "b_K", "b_V", "b_O", "b_in", "b_out", "w", "b"):
                p.normal_(0.1, 0.3)
    bridge = to_transformer_bridge(model)
    batch = tokens(64)
    ours, theirs = model(batch), bridge(batch)
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() < 1e-5
    # and TL's own cache agrees with ours on an inner activation
    _, their_cache = bridge.run_with_cache(batch)
    _, our_cache = model.run_with_cache(batch)
    diff = our_cache["blocks.0.mlp.hook_post"] - their_cache["blocks.0.mlp.hook_post"]
    assert diff.abs().max().item() < 1e-5


def test_reading_only_the_last_position_gives_the_same_logits():
    model = nanda_model(n_layers=2)
    batch = tokens(16)
    full = model(batch)
    last = model(batch, read_pos=slice(2, 3))
    assert last.shape == (16, 1, 113)
    assert torch.allclose(full[:, -1:], last, atol=1e-6)


def test_forward_returns_neurons_and_final_residual_as_the_hooks_see_them():
    model = nanda_model()
    batch = tokens(8)
    _, cache = model.run_with_cache(batch)
    last = slice(2, 3)
    out, post, resid = model(batch, read_pos=last, return_neurons=True, return_resid=True)
    assert torch.equal(out, model(batch, read_pos=last))
    assert torch.allclose(post, cache["blocks.0.mlp.hook_post"][:, last], atol=1e-6)
    assert torch.allclose(resid, cache["blocks.0.hook_resid_post"][:, last], atol=1e-6)
    assert torch.allclose(model.unembed(model.ln_final(resid)), out)
    only_resid = model(batch, read_pos=last, return_resid=True)
    assert len(only_resid) == 2 and torch.equal(only_resid[1], resid)

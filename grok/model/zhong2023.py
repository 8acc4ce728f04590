"""Zhong et al. 2023's released models (fjzzq2002/pizza, ``code/save/``) as grok Transformers.

Their ``code/train-main.py`` model is a grok Transformer with ``model.attn_rate`` = their
``attn_coeff``, no causal mask (theirs is registered, never applied), no LayerNorm, biases
only in the MLP, d_mlp = 4 d_model, inputs [a, b] (``task.eq_token=false`` unless
``eqn_sign``) and b's residues as tokens of their own with ``diff_vocab``. Their weights are
stored transposed against TransformerLens's (W_E [d_model, d_vocab], W_Q [heads, d_head,
d_model], W_O [d_model, heads * d_head] with the head index outer, W_in [d_mlp, d_model]).

Their unembedding covers the whole input vocabulary; grok's covers the p residues (every
label is one), so the extra columns of an ``eqn_sign`` / ``diff_vocab`` model are dropped:
the residues' logits are unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from grok.errors import ConfigError
from grok.model.config import TransformerConfig
from grok.model.transformer import Transformer

_ACTIVATIONS = {"ReLU": "relu", "GeLU": "gelu"}  # code/train-main.py act_type


@dataclass(frozen=True)
class Released:
    """One released model: the grok Transformer and the grok overrides of its task."""

    model: Transformer
    overrides: list[str]  # e.g. ["task=modadd", "task.p=59", "task.eq_token=false", ...]
    config: dict[str, Any]  # their config json


def transformer_config(theirs: dict[str, Any]) -> TransformerConfig:
    """The grok architecture of one of their configs (a ConfigError names what is not)."""
    add = f"lambda x: (x[0]+x[1])%{theirs.get('C')}"
    if theirs.get("funcs") != add:
        raise ConfigError(f"funcs={theirs.get('funcs')!r}: only modular addition ({add!r})")
    if theirs.get("act_fn") not in _ACTIVATIONS:
        raise ConfigError(f"act_fn={theirs.get('act_fn')!r}: allowed are {list(_ACTIVATIONS)}")
    p, d_model, heads = int(theirs["C"]), int(theirs["d_model"]), int(theirs["n_heads"])
    diff, eq = bool(theirs.get("diff_vocab")), bool(theirs.get("eqn_sign"))
    return TransformerConfig(
        n_layers=int(theirs["n_layers"]),
        n_heads=heads,
        d_model=d_model,
        d_head=d_model // heads,
        d_mlp=4 * d_model,  # code/train-main.py: MLP(d_model, d_model*4, act_type)
        d_vocab=p * (2 if diff else 1) + int(eq),
        d_vocab_out=p,
        n_ctx=3 if eq else 2,
        act_fn=_ACTIVATIONS[theirs["act_fn"]],
        causal=False,
        init="zhong2023",
        mlp_bias=True,
        attn_rate=float(theirs["attn_coeff"]),
    )


def convert_state_dict(theirs: dict[str, Tensor], cfg: TransformerConfig) -> dict[str, Tensor]:
    """Their state dict in grok's (TransformerLens's) names and shapes."""
    h, e, d = cfg.n_heads, cfg.d_head, cfg.d_model
    out = {
        "embed.W_E": theirs["embed.W_E"].T,
        "pos_embed.W_pos": theirs["pos_embed.W_pos"][: cfg.n_ctx],
        "unembed.W_U": theirs["unembed.W_U"][:, : cfg.d_vocab_out],
    }
    for layer in range(cfg.n_layers):
        src, dst = f"blocks.{layer}.", f"blocks.{layer}."
        for name in ("W_Q", "W_K", "W_V"):  # [heads, d_head, d_model] -> [heads, d_model, d_head]
            out[f"{dst}attn.{name}"] = theirs[f"{src}attn.{name}"].transpose(1, 2)
        out[f"{dst}attn.W_O"] = theirs[f"{src}attn.W_O"].T.reshape(h, e, d)
        out[f"{dst}mlp.W_in"] = theirs[f"{src}mlp.W_in"].T
        out[f"{dst}mlp.b_in"] = theirs[f"{src}mlp.b_in"]
        out[f"{dst}mlp.W_out"] = theirs[f"{src}mlp.W_out"].T
        out[f"{dst}mlp.b_out"] = theirs[f"{src}mlp.b_out"]
    return {k: v.contiguous().float() for k, v in out.items()}


def load_released(config_json: str | Path, state_dict: str | Path) -> Released:
    """``code/save/config_<id>.json`` and ``model_<id>.pt`` as a grok model (eval mode)."""
    theirs = json.loads(Path(config_json).read_text())
    cfg = transformer_config(theirs)
    model = Transformer(cfg)
    sd = torch.load(state_dict, map_location="cpu", weights_only=True)
    converted = convert_state_dict(sd, cfg)
    own = model.state_dict()
    missing = sorted(set(k for k, _ in model.named_parameters()) - set(converted))
    if missing:
        raise ConfigError(f"{state_dict}: no weights for {missing}")
    own.update(converted)
    model.load_state_dict(own)
    overrides = [
        "task=modadd",
        f"task.p={int(theirs['C'])}",
        f"task.eq_token={str(bool(theirs.get('eqn_sign'))).lower()}",
        f"task.diff_vocab={str(bool(theirs.get('diff_vocab'))).lower()}",
    ]
    return Released(model=model.eval(), overrides=overrides, config=theirs)

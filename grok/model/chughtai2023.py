"""Chughtai et al. 2023's released models (bilal-chughtai/rep-theory-mech-interp,
``rep_theory/batch_experiments/<run>/``: ``cfg.json`` and ``model.pt``) as grok models.

Their ``Transformer`` (``rep_theory/utils/models.py``) is TransformerLens's HookedTransformer
with model=nanda's shape on inputs [x, y, |G|]: its state dict is already in grok's names
and shapes (TL's), plus ``x_embed`` / ``y_embed``, aliases of ``embed.W_E`` it sets for its
metrics, and TL's mask buffers. Their ``OneLayerMLP`` is grok's ``model=mlp`` on [x, y]
(``task.eq_token=false``): ``W_x``, ``W_y`` [|G|, embed_dim], ``W`` [2 embed_dim, hidden_dim]
(grok's ``blocks.0.mlp.W_in``), ``W_U``. Elements are indexed as grok's ``task=group``
(``grok.task.groups``), so their tokens are grok's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from grok.errors import ConfigError
from grok.model.config import TransformerConfig
from grok.model.mlp import MLPNet
from grok.model.transformer import HookedModel, Transformer

# their cfg.json "group" -> grok's task.group prefix
GROUPS = {
    "SymmetricGroup": "S",
    "AlternatingGroup": "A",
    "DihedralGroup": "D",
    "CyclicGroup": "C",
}
_ALIASES = ("x_embed", "y_embed")  # their forward's attributes, not weights of their own
MLP_NAMES = {"W_x": "embed.W_x", "W_y": "embed.W_y", "W": "blocks.0.mlp.W_in", "W_U": "unembed.W_U"}


def group_name(theirs: dict[str, Any]) -> str:
    if theirs.get("group") not in GROUPS:
        raise ConfigError(f"group={theirs.get('group')!r}: allowed are {list(GROUPS)}")
    return f"{GROUPS[theirs['group']]}{int(theirs['group_parameter'])}"


def transformer_config(order: int) -> TransformerConfig:
    """Their Transformer for a group of ``order`` elements (utils/models.py)."""
    return TransformerConfig(
        n_layers=1,
        n_heads=4,
        d_model=128,
        d_head=32,
        d_mlp=512,
        d_vocab=order + 1,
        d_vocab_out=order,
        n_ctx=3,
        act_fn="relu",
    )


def mlp_config(order: int, embed_dim: int, hidden_dim: int) -> TransformerConfig:
    """Their OneLayerMLP (utils/models.py) on [x, y]: grok's model=mlp."""
    return TransformerConfig(
        n_layers=1,
        n_heads=4,  # not read by the MLP: model=mlp's (nanda's) values, so configs agree
        d_model=embed_dim,
        d_head=32,
        d_mlp=hidden_dim,
        d_vocab=order,
        d_vocab_out=order,
        n_ctx=2,
        arch="mlp",
        init="chughtai2023",
        operand_pos=(0, 1),
    )


def load_released(folder: str | Path) -> tuple[HookedModel, dict[str, Any]]:
    """``folder``'s cfg.json and model.pt as a grok model (eval mode) and their cfg."""
    folder = Path(folder)
    theirs = json.loads((folder / "cfg.json").read_text())
    sd = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    if theirs.get("model") == "OneLayerMLP":
        order, embed = sd["W_x"].shape
        model: HookedModel = MLPNet(mlp_config(order, embed, sd["W"].shape[1]))
        sd = {MLP_NAMES.get(k, k): v for k, v in sd.items()}
    elif theirs.get("model") == "Transformer":
        model = Transformer(transformer_config(sd["embed.W_E"].shape[0] - 1))  # elements, '='
    else:
        allowed = ["Transformer", "OneLayerMLP"]
        raise ConfigError(f"{folder}/cfg.json: model={theirs.get('model')!r}: allowed: {allowed}")
    trained_bias = [k for k, v in sd.items() if ".b_" in k and bool(v.any())]
    if trained_bias:  # theirs are frozen at 0, as grok's model.bias=false
        raise ConfigError(f"{folder}/model.pt: nonzero biases {trained_bias}: not their model")
    own = model.state_dict()
    weights = {k: v.float() for k, v in sd.items() if k in own and k not in _ALIASES}
    missing = sorted(k for k, _ in model.named_parameters() if k not in weights)
    if missing:
        raise ConfigError(f"{folder}/model.pt: no weights for {missing}")
    own.update(weights)
    model.load_state_dict(own)
    return model.eval(), theirs

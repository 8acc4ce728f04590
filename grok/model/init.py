"""Weight initialisation: HookedTransformer's default, xavier-normal, and the seeds' torch inits.

One private generator per model, seeded by the member's ``model.seed`` alone, so a packed
member starts from exactly the weights of its lone run. Parameters are drawn in
``named_parameters`` order; the default choices draw exactly what they always drew.

Seed-faithful options (``model.init``, ``model.io_init``, ``model.bias_init``):

- ``zhong2023``: Zhong et al. 2023 (fjzzq2002/pizza, code/train-main.py) draw every weight
  as randn / sqrt(d_model), except W_U / sqrt(d_vocab) and W_in / sqrt(d_mlp) (their W_in
  is [d_mlp, d_model]: the fan-out); times ``init_gain``.

- ``chughtai2023``: Chughtai et al. 2023 (bilal-chughtai/rep-theory-mech-interp,
  rep_theory/utils/models.py, ``OneLayerMLP``) draw every embedding as randn / sqrt(its
  width) and every other matrix as randn / sqrt(fan_in) (W [2 embed_dim, hidden]:
  sqrt(2 embed_dim); W_U: sqrt(hidden)); times ``init_gain``. Their draw order (W_x, W_y, W,
  W_U) is the MLP's parameter order, so one seed draws their numbers.

- ``xavier_normal_packed``: seed 002 calls ``xavier_normal_(gain=2)`` on every matrix of a
  ``nn.TransformerEncoderLayer``, whose attention keeps Q, K and V in one packed
  ``in_proj_weight [3 d_model, d_model]``: fan_in = d_model, fan_out = 3 heads d_head, so
  Q/K/V get std gain sqrt(2 / (d_model + 3 heads d_head)) (0.177 at gain 2, d_model 64), not
  the 0.25 of three separate [d_model, d_model] matrices.
- ``io_init: linear``: seed 000 replaced TL's embedding and unembedding by ``nn.Linear(1,
  d_model)`` and ``nn.Linear(d_model, 1)``, left at torch's default, U(-1/sqrt(fan_in),
  1/sqrt(fan_in)) for weight and bias alike (the k-projection: U(-1, 1)).
- ``bias_init: linear``: the biases of the layers that are ``nn.Linear`` in the seeds (the
  scalar input's b_E, the MLP's b_in and b_out, the readout's b_U) start at torch's
  U(+-1/sqrt(fan_in)); attention biases stay zero, as ``nn.MultiheadAttention`` sets them.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

INITS = ("normal", "xavier_normal", "xavier_normal_packed", "zhong2023", "chughtai2023")
_EMBEDDINGS = ("W_E", "W_x", "W_y", "W_pos")
IO_INITS = ("scheme", "linear")
BIAS_INITS = ("zero", "linear")
_LINEAR_BIASES = ("b_E", "b_in", "b_out", "b_U")  # nn.Linear biases in seeds 000 / 002


def _uniform(shape: torch.Size, bound: float, gen: torch.Generator) -> Tensor:
    """torch.nn.init.uniform_(-bound, bound), from ``gen``."""
    return torch.empty(shape, dtype=torch.float32).uniform_(-bound, bound, generator=gen)


def weight_std(cfg: Any, leaf: str, shape: torch.Size) -> float:
    """Std of weight ``leaf`` under ``cfg.init`` (fans from each weight's role as a matrix:
    W_Q maps d_model -> heads*d_head; W_O maps heads*d_head -> d_model)."""
    if cfg.init == "normal":
        return cfg.initializer_range
    if cfg.init == "zhong2023":  # code/train-main.py: torch.randn(shape) / sqrt(n)
        n = {"W_U": cfg.d_vocab, "W_in": cfg.d_mlp}.get(leaf, cfg.d_model)
        return cfg.init_gain / math.sqrt(n)
    if cfg.init == "chughtai2023":
        return cfg.init_gain / math.sqrt(_chughtai_fan(leaf, shape))
    if len(shape) == 3:  # [heads, a, b]
        if leaf == "W_O":
            fan_sum = shape[0] * shape[1] + shape[2]
        elif cfg.init == "xavier_normal_packed":  # torch's in_proj_weight [3 h e, d]
            fan_sum = shape[1] + 3 * shape[0] * shape[2]
        else:
            fan_sum = shape[1] + shape[0] * shape[2]
    else:
        fan_sum = shape[0] + shape[1]
    return cfg.init_gain * math.sqrt(2.0 / fan_sum)


def _chughtai_fan(leaf: str, shape: torch.Size) -> int:
    """Chughtai et al.'s divisor: an embedding's width, else the matrix's fan_in."""
    if leaf in _EMBEDDINGS:
        return shape[-1]
    if leaf == "W_O":  # [heads, d_head, d_model]
        return shape[0] * shape[1]
    return shape[-2]  # [fan_in, fan_out], or [heads, d_model, d_head]


def _fan_in(model: Any, name: str, leaf: str) -> int:
    """fan_in of the nn.Linear a weight or bias belongs to."""
    cfg = model.cfg
    if leaf in ("W_E", "b_E"):
        return 1  # the scalar input's projection (seed 000's nn.Linear(1, d_model))
    if leaf == "b_out":
        return cfg.d_mlp
    return cfg.d_model  # b_in, W_U, b_U


def init_weights(model: Any, seed: int) -> None:
    """Initialise ``model`` (a grok Transformer or MLP) in place from ``seed`` alone."""
    cfg = model.cfg
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    io_linear = cfg.io_init == "linear"
    with torch.no_grad():
        for name, param in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if io_linear and (leaf == "W_U" or (leaf == "W_E" and cfg.input_kind == "scalar")):
                sample = _uniform(param.shape, 1 / math.sqrt(_fan_in(model, name, leaf)), gen)
            elif leaf.startswith("W_"):
                std = weight_std(cfg, leaf, param.shape)
                sample = torch.randn(param.shape, generator=gen, dtype=torch.float32) * std
            elif leaf == "w":
                param.fill_(1.0)
                continue
            elif cfg.bias_init == "linear" and leaf in _LINEAR_BIASES:
                sample = _uniform(param.shape, 1 / math.sqrt(_fan_in(model, name, leaf)), gen)
            else:
                param.zero_()
                continue
            param.copy_(sample.to(param.dtype))

"""Models: TL-compatible transformers, sized by the ``model`` config group."""

from __future__ import annotations

import math
from typing import Any

from grok.model.transformer import ACTIVATIONS, INITS, Transformer, TransformerConfig

_POSITIVE = ("n_layers", "n_heads", "d_model", "d_head", "d_mlp")


def validate(cfg: Any) -> list[str]:
    errors = []
    for key in _POSITIVE:
        value = cfg.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(f"model.{key}={value!r}: must be a positive integer")
    if cfg.get("act_fn") not in ACTIVATIONS:
        errors.append(f"model.act_fn={cfg.get('act_fn')!r}: allowed are {sorted(ACTIVATIONS)}")
    if cfg.get("normalization") not in (None, "LN"):
        errors.append(f"model.normalization={cfg.get('normalization')!r}: allowed are null or LN")
    seed = cfg.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        errors.append(f"model.seed={seed!r}: must be a non-negative integer")
    if cfg.get("init", "normal") not in INITS:
        errors.append(f"model.init={cfg.get('init')!r}: allowed are {list(INITS)}")
    gain = cfg.get("init_gain", 1.0)
    if not isinstance(gain, int | float) or isinstance(gain, bool) or gain <= 0:
        errors.append(f"model.init_gain={gain!r}: must be a number > 0")
    init_std = cfg.get("init_std")
    if init_std is not None and not (isinstance(init_std, int | float) and init_std > 0):
        errors.append(f"model.init_std={init_std!r}: must be null (0.8/sqrt(d_model)) or > 0")
    scale = cfg.get("logit_scale", 1.0)
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not 0 < scale < math.inf:
        errors.append(f"model.logit_scale={scale!r}: must be a finite number > 0")
    return errors


def model_config(cfg: Any, task: Any) -> TransformerConfig:
    """Architecture from the ``model`` group; vocabulary and context from the task."""
    return TransformerConfig(
        n_layers=int(cfg.n_layers),
        n_heads=int(cfg.n_heads),
        d_model=int(cfg.d_model),
        d_head=int(cfg.d_head),
        d_mlp=int(cfg.d_mlp),
        d_vocab=task.d_vocab,
        d_vocab_out=task.d_vocab_out,
        n_ctx=task.n_ctx,
        act_fn=str(cfg.act_fn),
        normalization_type=cfg.get("normalization"),
        bias=bool(cfg.get("bias", False)),
        causal=bool(cfg.get("causal", True)),
        init_std=cfg.get("init_std"),
        init=str(cfg.get("init", "normal")),
        init_gain=float(cfg.get("init_gain", 1.0)),
        input_kind=task.input_kind,
        logit_scale=float(cfg.get("logit_scale", 1.0)),
    )


__all__ = ["Transformer", "TransformerConfig", "model_config", "validate"]

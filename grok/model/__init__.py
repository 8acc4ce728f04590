"""Models: TL-compatible transformers, sized by the ``model`` config group."""

from __future__ import annotations

import math
from typing import Any

from grok.model.init import BIAS_INITS, INITS, IO_INITS
from grok.model.transformer import ACTIVATIONS, LN_POSITIONS, Transformer, TransformerConfig

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
    return errors + _seed_option_problems(cfg)


def _seed_option_problems(cfg: Any) -> list[str]:
    """The options that reproduce the seeds' architectures and inits."""
    errors = []
    for key, allowed, default in (
        ("io_init", IO_INITS, "scheme"),
        ("bias_init", BIAS_INITS, "zero"),
        ("ln_position", LN_POSITIONS, "pre"),
    ):
        if cfg.get(key, default) not in allowed:
            errors.append(f"model.{key}={cfg.get(key)!r}: allowed are {list(allowed)}")
    if cfg.get("ln_position", "pre") == "post" and cfg.get("normalization") != "LN":
        errors.append(
            f"model.ln_position=post: needs model.normalization=LN "
            f"(got {cfg.get('normalization')!r}); post-LN without a LayerNorm is pre-LN"
        )
    if not isinstance(cfg.get("ln_final", True), bool):
        errors.append(f"model.ln_final={cfg.get('ln_final')!r}: must be true or false")
    if cfg.get("unembed_bias") not in (None, True, False):
        errors.append(
            f"model.unembed_bias={cfg.get('unembed_bias')!r}: must be null (as model.bias), "
            "true or false"
        )
    rate = cfg.get("dropout", 0.0)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate < 1:
        errors.append(f"model.dropout={rate!r}: must be a number in [0, 1)")
    steps = cfg.get("dropout_steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 0):
        errors.append(
            f"model.dropout_steps={steps!r}: must be null (dropout throughout training) "
            "or an integer >= 0"
        )
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
        ln_position=str(cfg.get("ln_position", "pre")),
        ln_final=bool(cfg.get("ln_final", True)),
        unembed_bias=cfg.get("unembed_bias"),
        io_init=str(cfg.get("io_init", "scheme")),
        bias_init=str(cfg.get("bias_init", "zero")),
    )


__all__ = ["Transformer", "TransformerConfig", "model_config", "validate"]

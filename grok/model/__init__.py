"""Models: TL-compatible transformers, sized by the ``model`` config group."""

from __future__ import annotations

from typing import Any

from grok import checks
from grok.model.init import BIAS_INITS, INITS, IO_INITS
from grok.model.transformer import ACTIVATIONS, LN_POSITIONS, Transformer, TransformerConfig

_POSITIVE = ("n_layers", "n_heads", "d_model", "d_head", "d_mlp")


def problems(cfg: Any) -> list[str]:
    errors = []
    for key in _POSITIVE:
        errors += checks.integer(f"model.{key}", cfg.get(key), text="must be a positive integer")
    errors += checks.choice(
        "model.act_fn", cfg.get("act_fn"), ACTIVATIONS, text=f"allowed are {sorted(ACTIVATIONS)}"
    )
    errors += checks.choice(
        "model.normalization", cfg.get("normalization"), (None, "LN"), text="allowed are null or LN"
    )
    seed = cfg.get("seed")
    errors += checks.integer("model.seed", seed, low=0, text="must be a non-negative integer")
    errors += checks.choice("model.init", cfg.get("init", "normal"), INITS)
    # inf and NaN pass here (``gain <= 0`` is false for them), as they always have
    gain = cfg.get("init_gain", 1.0)
    if not isinstance(gain, int | float) or isinstance(gain, bool) or gain <= 0:
        errors.append(f"model.init_gain={gain!r}: must be a number > 0")
    init_std = cfg.get("init_std")
    if init_std is not None and not (isinstance(init_std, int | float) and init_std > 0):
        errors.append(f"model.init_std={init_std!r}: must be null (0.8/sqrt(d_model)) or > 0")
    errors += checks.number("model.logit_scale", cfg.get("logit_scale", 1.0), gt=0)
    return errors + _seed_option_problems(cfg)


def _seed_option_problems(cfg: Any) -> list[str]:
    """The options that reproduce the seeds' architectures and inits."""
    errors = []
    for key, allowed, default in (
        ("io_init", IO_INITS, "scheme"),
        ("bias_init", BIAS_INITS, "zero"),
        ("ln_position", LN_POSITIONS, "pre"),
    ):
        errors += checks.choice(f"model.{key}", cfg.get(key, default), allowed)
    if cfg.get("ln_position", "pre") == "post" and cfg.get("normalization") != "LN":
        errors.append(
            f"model.ln_position=post: needs model.normalization=LN "
            f"(got {cfg.get('normalization')!r}); post-LN without a LayerNorm is pre-LN"
        )
    errors += checks.boolean("model.ln_final", cfg.get("ln_final", True))
    errors += checks.choice(
        "model.unembed_bias",
        cfg.get("unembed_bias"),
        (None, True, False),
        text="must be null (as model.bias), true or false",
    )
    errors += checks.number("model.dropout", cfg.get("dropout", 0.0), ge=0, lt=1)
    errors += checks.integer(
        "model.dropout_steps",
        cfg.get("dropout_steps"),
        low=0,
        null=True,
        text="must be null (dropout throughout training) or an integer >= 0",
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


__all__ = ["Transformer", "TransformerConfig", "model_config", "problems"]

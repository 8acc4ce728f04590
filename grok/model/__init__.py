"""Models: TL-compatible transformers and MLPs, sized by the ``model`` config group.

``model.arch`` picks the family; ``build_model`` is the one place that maps it to a class.
The MLP (``grok/model/mlp.py``) reads d_model, d_mlp, n_layers, act_fn, bias, mlp_bias,
unembed_bias, init, init_std, init_gain, logit_scale and seed; it ignores the transformer's
n_heads, d_head, causal and ln_final, and refuses the transformer options that would change
a transformer but not it (``_TRANSFORMER_ONLY``)."""

from __future__ import annotations

from typing import Any

from grok import checks
from grok.model.config import (
    ACTIVATIONS,
    ARCHS,
    LN_POSITIONS,
    MLP_COMBINES,
    MLP_EMBEDS,
    TransformerConfig,
)
from grok.model.init import BIAS_INITS, INITS, IO_INITS
from grok.model.mlp import MLPNet
from grok.model.transformer import HookedModel, Transformer

MODELS: dict[str, type[HookedModel]] = {"transformer": Transformer, "mlp": MLPNet}
# transformer options the MLP has no place for: a value other than this is refused
_TRANSFORMER_ONLY = {
    "normalization": None,
    "ln_position": "pre",
    "attn_rate": 1.0,
    "io_init": "scheme",
    "bias_init": "zero",
    "dropout": 0.0,
}


def build_model(cfg: TransformerConfig) -> HookedModel:
    """The model ``cfg`` describes (uninitialised: ``init_weights(seed)`` draws it)."""
    return MODELS[cfg.arch](cfg)


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
    errors += checks.choice("model.init", cfg.get("init"), INITS)
    # not checks.number: inf and NaN pass here (``gain <= 0`` is false for them), as always
    gain = cfg.get("init_gain")
    if not checks.is_number(gain, finite=False) or gain <= 0:
        errors.append(f"model.init_gain={gain!r}: must be a number > 0")
    init_std = cfg.get("init_std")
    if init_std is not None and not (isinstance(init_std, int | float) and init_std > 0):
        errors.append(f"model.init_std={init_std!r}: must be null (0.8/sqrt(d_model)) or > 0")
    errors += checks.number("model.logit_scale", cfg.get("logit_scale"), gt=0)
    return errors + _seed_option_problems(cfg) + _arch_problems(cfg)


def _arch_problems(cfg: Any) -> list[str]:
    arch = cfg.get("arch")
    errors = checks.choice("model.arch", arch, ARCHS)
    errors += checks.choice("model.mlp_embed", cfg.get("mlp_embed"), MLP_EMBEDS)
    errors += checks.choice("model.mlp_combine", cfg.get("mlp_combine"), MLP_COMBINES)
    if arch == "mlp":
        for key, default in _TRANSFORMER_ONLY.items():
            if cfg.get(key) != default:
                errors.append(
                    f"model.{key}={cfg.get(key)!r}: a transformer option; model.arch=mlp "
                    f"allows only {default!r}"
                )
    return errors


def task_problems(cfg: Any, task: Any) -> list[str]:
    """What ``model`` (its config section) cannot do on ``task`` (a built Task)."""
    if cfg.get("arch") != "mlp":
        return []
    if task.input_kind != "tokens":
        return [f"model.arch=mlp: reads operand tokens; task={task.name} gives one real number"]
    n_read = len(range(*task.read_pos.indices(task.n_ctx)))
    if n_read != 1:
        return [f"model.arch=mlp: predicts one output; task={task.name} reads {n_read} positions"]
    n_ops = len(task.operand_positions)
    if cfg.get("mlp_embed") == "separate" and n_ops != 2:
        return [
            f"model.mlp_embed='separate': one embedding per operand needs two; "
            f"task={task.name} has {n_ops} (use model.mlp_embed=shared)"
        ]
    return []


def _seed_option_problems(cfg: Any) -> list[str]:
    """The options that reproduce the seeds' architectures and inits."""
    errors = []
    for key, allowed in (
        ("io_init", IO_INITS),
        ("bias_init", BIAS_INITS),
        ("ln_position", LN_POSITIONS),
    ):
        errors += checks.choice(f"model.{key}", cfg.get(key), allowed)
    if cfg.get("ln_position") == "post" and cfg.get("normalization") != "LN":
        errors.append(
            f"model.ln_position=post: needs model.normalization=LN "
            f"(got {cfg.get('normalization')!r}); post-LN without a LayerNorm is pre-LN"
        )
    errors += checks.boolean("model.ln_final", cfg.get("ln_final"))
    errors += checks.choice(
        "model.unembed_bias",
        cfg.get("unembed_bias"),
        (None, True, False),
        text="must be null (as model.bias), true or false",
    )
    errors += checks.choice(
        "model.mlp_bias",
        cfg.get("mlp_bias"),
        (None, True, False),
        text="must be null (as model.bias), true or false",
    )
    errors += checks.number("model.attn_rate", cfg.get("attn_rate"), ge=0, le=1)
    errors += checks.number("model.dropout", cfg.get("dropout"), ge=0, lt=1)
    errors += checks.integer(
        "model.dropout_steps",
        cfg.get("dropout_steps"),
        low=0,
        null=True,
        text="must be null (dropout throughout training) or an integer >= 0",
    )
    return errors


def model_config(cfg: Any, task: Any) -> TransformerConfig:
    """Architecture from the ``model`` group (every key: a composed config, or a stored one
    through ``grok.defaults.with_added_keys``); vocabulary and context from the task (and,
    for the MLP, the positions it reads)."""
    mlp = cfg.arch == "mlp"
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
        normalization_type=cfg.normalization,
        bias=bool(cfg.bias),
        causal=bool(cfg.causal),
        init_std=cfg.init_std,
        init=str(cfg.init),
        init_gain=float(cfg.init_gain),
        input_kind=task.input_kind,
        logit_scale=float(cfg.logit_scale),
        ln_position=str(cfg.ln_position),
        ln_final=bool(cfg.ln_final),
        unembed_bias=cfg.unembed_bias,
        io_init=str(cfg.io_init),
        bias_init=str(cfg.bias_init),
        mlp_bias=cfg.mlp_bias,
        attn_rate=float(cfg.attn_rate),
        arch=str(cfg.arch),
        mlp_embed=str(cfg.mlp_embed),
        mlp_combine=str(cfg.mlp_combine),
        operand_pos=tuple(task.operand_positions) if mlp else (),
    )


__all__ = [
    "MODELS",
    "HookedModel",
    "MLPNet",
    "Transformer",
    "TransformerConfig",
    "build_model",
    "model_config",
    "problems",
    "task_problems",
]

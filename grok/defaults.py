"""Defaults that depend on another key, resolved into the config itself.

config.yaml must say what ran. A default that code filled in at training time (``lamb: null``
meaning "the paper's value for this filter") left the record saying ``null``; these are
resolved by OmegaConf resolvers instead (registered with the sweeps, before any config is
composed), so the resolved config.yaml holds the number used.
"""

from __future__ import annotations

# Lee et al. 2024, ironjr/grokfast grokfast.py: gradfilter_ema(lamb=2.0), gradfilter_ma(lamb=5.0).
GROKFAST_LAMB = {"ema": 2.0, "ma": 5.0}


def grokfast_lamb(kind: str) -> float | None:
    """``optim.grokfast.lamb`` for ``optim.grokfast.kind``; null while the filter is off (as
    configs written before said, so their runs still resume)."""
    return GROKFAST_LAMB.get(str(kind))


RESOLVERS = {"grok_grokfast_lamb": grokfast_lamb}

# What a stored config.yaml without a key means: the value runs trained with before the key
# existed (conf/ holds what a new run gets). A config composed from conf/ has every key, so
# its builders read keys directly; a run dir written by an older grok is read back
# (``grok.load_run``, ``grok measure``, a checkpoint without ``model_args``), and its missing
# keys are filled from here, the one place, by ``with_added_keys``.
ADDED_KEYS: dict[str, dict[str, object]] = {
    "model": {
        "normalization": None,
        "bias": False,
        "causal": True,
        "init_std": None,
        "init": "normal",
        "init_gain": 1.0,
        "logit_scale": 1.0,
        "ln_position": "pre",
        "ln_final": True,
        "unembed_bias": None,
        "io_init": "scheme",
        "bias_init": "zero",
        "mlp_bias": None,
        "attn_rate": 1.0,
        "arch": "transformer",
        "mlp_embed": "separate",
        "mlp_combine": "concat",
    },
}


def with_added_keys(config: dict) -> dict:
    """A stored run's config (plain dicts) with the keys of ``ADDED_KEYS`` it lacks filled
    in, so code that reads keys directly builds it as the grok that wrote it did."""
    out = dict(config)
    for section, added in ADDED_KEYS.items():
        if isinstance(out.get(section), dict):
            out[section] = {**added, **out[section]}
    return out

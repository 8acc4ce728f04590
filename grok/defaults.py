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

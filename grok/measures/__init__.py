"""Progress measures, computed inside training every ``measures.every`` epochs.

A measure sees one member at a time, through a ``MemberView`` (grok/measures/base.py), and
returns a dict of values; the values land in that member's metrics rows under grouped
names (``fourier/restricted_loss``) and go wherever metrics go (metrics.jsonl, W&B).
Measures run between epochs, on the same device, with gradients off; they never touch the
optimizer state.
"""

from __future__ import annotations

from typing import Any

from grok import checks
from grok.measures.base import Measure
from grok.measures.irreps import IrrepMeasure
from grok.measures.modular import FourierMeasure
from grok.measures.parity import ParityMeasure
from grok.measures.pizza import PizzaMeasure
from grok.measures.softmax import SoftmaxMeasure
from grok.measures.tasks import FractionMeasure, ReversalMeasure, SineMeasure
from grok.measures.weights import WeightMeasure

# outputs: zero each attention / MLP output (hooks); weights: zero W_O / W_out (seed 004)
ABLATIONS = ("outputs", "weights")
MEASURES: dict[str, type[Measure]] = {
    m.name: m
    for m in (
        WeightMeasure,
        FourierMeasure,
        IrrepMeasure,
        PizzaMeasure,
        SoftmaxMeasure,
        SineMeasure,
        ReversalMeasure,
        FractionMeasure,
        ParityMeasure,
    )
}


def problems(cfg: Any) -> list[str]:
    if cfg is None:
        return []
    errors = checks.integer("measures.every", cfg.get("every"))
    names = cfg.get("names", [])
    unknown = [n for n in names if n not in (*MEASURES, "llc")]
    if unknown:
        errors.append(f"measures.names: unknown {unknown}; allowed are {[*MEASURES, 'llc']}")
    reversal = cfg.get("reversal")  # measures=none has no reversal options
    if reversal is not None:
        errors += checks.choice("measures.reversal.ablate", reversal.get("ablate"), ABLATIONS)
        errors += checks.integer(
            "measures.reversal.sample",
            reversal.get("sample"),
            null=True,
            text="must be null (the whole holdout) or an integer >= 1",
        )
    return errors


def build_measures(cfg: Any, task: Any) -> list[Measure]:
    """The configured measures that apply to ``task`` (measures for other tasks are skipped)."""
    if cfg is None:
        return []
    out: list[Measure] = []
    for name in cfg.names:
        if name == "llc":
            # deferred: devinterp, only when the llc measure is on
            from grok.measures.llc import LLCMeasure

            measure: Measure = LLCMeasure(cfg.get("llc", {}))
        else:
            measure = MEASURES[name](cfg)
        if measure.applies(task):
            out.append(measure)
    return out


__all__ = ["MEASURES", "Measure", "build_measures", "problems"]

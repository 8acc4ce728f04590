"""Training phases from the metrics and measures, by Nanda et al.'s criteria (no fixed epochs).

Nanda et al. 2023, Sec. 5.2, describe each phase by what the progress measures do:

- Memorization: "a decline of both excluded and train loss, with test and restricted loss
  both remaining high and the Gini coefficient staying relatively flat".
- Circuit formation: "excluded loss rises, sum of squared weights falls, restricted loss
  starts to fall, and test and train loss stay flat".
- Cleanup: "excluded loss plateaus, restricted loss continues to drop, test loss suddenly
  drops, and sum of squared weights sharply drops", "most cleanly shown in the sharp
  increase in the Gini coefficient for the matrices W_E and W_L" (Fig. 7: "The Gini
  coefficient of the norms of the Fourier components of W_E and W_L increase sharply
  during cleanup").

The paper gives these descriptions, not numeric thresholds; the boundaries here are the
turning points they name, with the thresholds ours:

- ``memorization_end``: where the excluded loss stops declining and starts to rise, i.e.
  the epoch of its lowest measured value at or before the grok epoch (over all measured
  epochs when the run has not grokked); but not before the train accuracy milestone, as
  memorization cannot end before the train set is memorized (measures run every
  ``measures.every`` epochs: a run that memorizes within one interval shows its minimum
  at epoch 0).
- ``circuit_formation_end``: where the test loss "suddenly drops": the last evaluated
  epoch, between ``memorization_end`` and the grok epoch, before the test loss first falls
  below half of its highest value since ``memorization_end`` (the peak so far).
- ``cleanup_end``: where the sharp rise of the Gini coefficients ends: the first measured
  epoch at or after the grok epoch at which both ``fourier/gini_embed`` and
  ``fourier/gini_logit`` have made 90% of their rise from ``circuit_formation_end`` to
  their highest measured value after it.
- ``generalization``: the grok epoch (test accuracy milestone).

Without Fourier measures (other tasks) only memorization (the train accuracy milestone)
and generalization are given; without a grok epoch the later boundaries are None.

When a run does not show the paper's phases apart, ``note`` says why, and the boundaries
are the rule's reading, not the paper's picture: a test loss that falls already during
"circuit formation" (midway through it, below ``FLAT`` x its value at ``memorization_end``;
the paper: "test and train loss stay flat"), as in a fast run whose test loss falls from the
end of memorization on (the quickstart: circuit formation and clean-up overlap), and a
circuit formation that fewer than two measurements see (the excluded loss's rise is not
resolved).
"""

from __future__ import annotations

from typing import Any

DROP = 0.5  # test loss below DROP x its post-memorization peak: the sudden drop has begun
RISE = 0.9  # share of the Gini rise that marks its end
FLAT = 0.8  # test loss "stays flat": midway through circuit formation, above FLAT x its start


def phases(rows: list[dict[str, Any]], milestones: dict[str, int | None]) -> dict[str, Any]:
    mem, grok = milestones.get("memorization_epoch"), milestones.get("grok_epoch")
    out: dict[str, Any] = {"memorization_end": mem, "generalization": grok}
    measured = [r for r in rows if "fourier/excluded_loss" in r]
    if not measured:
        return out
    before = [r for r in measured if grok is None or r["epoch"] <= grok]
    lowest = min(before or measured, key=lambda r: r["fourier/excluded_loss"])["epoch"]
    mem = max(lowest, mem) if mem is not None else lowest
    out |= {"memorization_end": mem, "circuit_formation_end": None, "cleanup_end": None}
    if grok is None:
        return out
    out["circuit_formation_end"] = circuit = _drop_onset(rows, mem, grok)
    out["cleanup_end"] = _gini_plateau(measured, circuit, grok)
    if notes := _ambiguities(rows, measured, mem, circuit):
        out["note"] = "; ".join(notes)
    return out


def _ambiguities(
    rows: list[dict[str, Any]], measured: list[dict[str, Any]], mem: int, circuit: int
) -> list[str]:
    """Why this run's phases are not the paper's picture (module docstring), if they are not."""
    loss = {r["epoch"]: r["test_loss"] for r in rows if "test_loss" in r}
    notes = []
    middle = min(loss, key=lambda e: abs(e - (mem + circuit) / 2), default=None)
    at_mem, at_middle = loss.get(mem), loss.get(middle)
    if at_mem and at_middle is not None and at_middle < FLAT * at_mem:
        notes.append(
            f"the test loss falls during circuit formation ({at_mem:.3g} at epoch {mem}, "
            f"{at_middle:.3g} at {middle}): circuit formation and clean-up overlap"
        )
    seen = sum(mem <= r["epoch"] <= circuit for r in measured)
    if seen < 2:
        notes.append(
            f"circuit formation ({mem}-{circuit}) holds {seen} measurement(s): "
            "measure more often (measures.every) to resolve it"
        )
    return notes


def _drop_onset(rows: list[dict[str, Any]], start: int, grok: int) -> int:
    """The last evaluated epoch in [start, grok] before the test loss first falls below
    DROP x its running maximum since ``start``."""
    onset, peak = start, 0.0
    for r in rows:
        if "test_loss" not in r or not start <= r["epoch"] <= grok:
            continue
        if r["test_loss"] < DROP * peak:
            return onset
        onset, peak = r["epoch"], max(peak, r["test_loss"])
    return onset


def _gini_plateau(measured: list[dict[str, Any]], start: int, grok: int) -> int | None:
    keys = [k for k in ("fourier/gini_embed", "fourier/gini_logit") if k in measured[-1]]
    after = [r for r in measured if r["epoch"] >= start and all(k in r for k in keys)]
    if not after or not keys:
        return None
    base = {k: after[0][k] for k in keys}
    top = {k: max(r[k] for r in after) for k in keys}
    return next(
        (
            r["epoch"]
            for r in after
            if r["epoch"] >= grok and all(r[k] >= base[k] + RISE * (top[k] - base[k]) for k in keys)
        ),
        None,
    )

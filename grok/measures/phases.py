"""Training phases from the metrics and measures, by a documented rule (no fixed epochs).

- memorization ends at the first evaluation with train accuracy (the task's milestone
  metric) past its threshold;
- circuit formation ends where the excluded loss peaks after memorization: while the
  Fourier circuit forms the model still relies on memorized (non-key) directions, and
  removing the key frequencies hurts more and more; once clean-up begins, generalization
  takes over and the excluded loss falls (Nanda et al. 2023, Fig. 5);
- clean-up ends at the first measurement after the grok epoch where the restricted loss
  (key frequencies only) is within 2x the test loss: the model then computes with its
  key frequencies alone.

Without Fourier measures (other tasks) only memorization and generalization are given.
"""

from __future__ import annotations

from typing import Any


def phases(rows: list[dict[str, Any]], milestones: dict[str, int | None]) -> dict[str, int | None]:
    mem, grok = milestones.get("memorization_epoch"), milestones.get("grok_epoch")
    out: dict[str, int | None] = {"memorization_end": mem, "generalization": grok}
    measured = [r for r in rows if "fourier/excluded_loss" in r]
    if not measured:
        return out
    after = [r for r in measured if mem is not None and r["epoch"] >= mem]
    if after and grok is not None:
        window = [r for r in after if r["epoch"] <= grok]
        peak = max(window or after, key=lambda r: r["fourier/excluded_loss"])
        out["circuit_formation_end"] = peak["epoch"]
    else:
        out["circuit_formation_end"] = None
    cleanup = None
    if grok is not None:
        cleanup = next(
            (
                r["epoch"]
                for r in measured
                if r["epoch"] >= grok
                and r["fourier/restricted_loss"] <= 2 * max(r["test_loss"], 1e-12)
            ),
            None,
        )
    out["cleanup_end"] = cleanup
    return out

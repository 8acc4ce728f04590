"""Figure pieces for ``measures_posthoc.jsonl`` (``grok measure``): the progress measures
recomputed on every checkpoint with one key set, drawn next to the online ones.

The restricted and excluded losses depend on the key set, so they get their own panel
beside the online one (same scale, same phases). The Gini coefficients do not (they are
over all Fourier components), so the post hoc values are dots on the online Gini curves:
where both exist they coincide, and runs trained without online measures still get them.
"""

from __future__ import annotations

from typing import Any

from grok.report.runs import column
from grok.report.spec import Panel, Series
from grok.store.catalog import Run

LOSSES = (
    ("fourier/test_loss", "test"),
    ("fourier/restricted_loss", "restricted (test)"),
    ("fourier/excluded_loss", "excluded (train)"),
)
GINI = (("fourier/gini_embed", "W_E"), ("fourier/gini_logit", "W_L"))


def keys_label(rows: list[dict[str, Any]]) -> str:
    """Which key frequencies the rows were computed with, for titles."""
    last = rows[-1]
    spec, used = last.get("keys"), last.get("keys_used")
    if spec == "final":
        return f"final model's keys {used} (epoch {last.get('keys_epoch')})"
    if spec == "online":
        return "each checkpoint's own keys"
    return f"keys {used}"


def loss_panel(run: Run, spans: list[tuple[float, float, str]]) -> Panel | None:
    """Test, restricted and excluded loss per checkpoint, with the file's key set."""
    rows = run.posthoc
    if not any("fourier/restricted_loss" in r for r in rows):
        return None
    panel = Panel(f"post hoc, {keys_label(rows)}", "epoch", "loss (log)", logy=True, spans=spans)
    panel.series = [Series(*column(rows, key), label) for key, label in LOSSES]
    return panel


def gini_series(run: Run) -> list[Series]:
    """The post hoc Gini coefficients as dots (they do not depend on the key set)."""
    return [
        Series(*column(run.posthoc, key), f"{label} (checkpoints)", kind="scatter")
        for key, label in GINI
        if any(key in r for r in run.posthoc)
    ]

"""Figures of the measures that say what a run learned before its test accuracy shows it:
a group run's representations (Chughtai et al. 2023, ``irreps/*``: which irreps the logits
follow, how much of the loss the key irreps carry) and a sparse-parity run's hidden
progress (Barak et al. 2022, ``parity/*``)."""

from __future__ import annotations

from grok.report.runs import column
from grok.report.spec import Figure, Panel, Series, milestone_markers, phase_spans
from grok.store.catalog import Run

PREFIX = "irreps/trace_sim/"


def representations(run: Run) -> list[Figure]:
    rows = [r for r in run.rows if any(k.startswith(PREFIX) for k in r)]
    if not rows:
        return []
    all_rows = run.rows
    spans = phase_spans(run.summary, all_rows[-1]["epoch"])
    marks = milestone_markers(run.summary)
    names = [k[len(PREFIX) :] for k in rows[-1] if k.startswith(PREFIX)]
    sims = Panel(
        "logit trace similarity per irrep", "epoch", "trace similarity", spans=spans, markers=marks
    )
    sims.series = [Series(*column(rows, PREFIX + n), n, marker=len(rows) == 1) for n in names]
    losses = Panel(
        "restricted / excluded loss (each epoch's key irreps)",
        "epoch",
        "loss (log)",
        logy=True,
        spans=spans,
    )
    for key, label in (
        ("test_loss", "test"),
        ("irreps/restricted_loss", "restricted (all pairs)"),
        ("irreps/excluded_loss", "excluded (train)"),
    ):
        losses.series.append(Series(*column(rows if key != "test_loss" else all_rows, key), label))
    keys = ", ".join(rows[-1].get("irreps/key_irreps") or []) or "none"
    title = f"{run.identity}: representations (final key irreps: {keys})"
    return [Figure("representations", title, [sims, losses])]


def hidden_progress(run: Run) -> list[Figure]:
    rows = [r for r in run.rows if "parity/w_dist" in r]
    if not rows:
        return []
    spans = phase_spans(run.summary, run.rows[-1]["epoch"])
    marks = milestone_markers(run.summary)
    dist = Panel("weight movement", "epoch", "‖w_t − w_0‖₂", spans=spans, markers=marks)
    dist.series = [Series(*column(rows, "parity/w_dist"), "w_dist")]
    panels = [dist]
    if any("parity/relevant_weight_frac" in r for r in rows):
        frac = Panel(
            "first-layer weight on the relevant bits", "epoch", "share, accuracy", spans=spans
        )
        frac.series = [Series(*column(rows, "parity/relevant_weight_frac"), "relevant bits")]
        frac.series.append(Series(*column(run.rows, "test_acc"), "test accuracy"))
        panels.append(frac)
    return [Figure("hidden_progress", f"{run.identity}: hidden progress (Barak et al.)", panels)]

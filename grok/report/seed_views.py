"""The seeds' own views that are not curves: seed 000's W_pos cosine-similarity matrix, seed
004's embedding comparison and MLP-output dump, seed 002's LLC curve next to the MAE."""

from __future__ import annotations

import math
from typing import Any

from grok.report.spec import Figure, Heatmap, Panel, Series
from grok.store.catalog import Run


def sine_pos_cosine(model: Any) -> Panel:
    """Seed 000's ``F.cosine_similarity`` of every pair of W_pos rows, as a matrix."""
    import torch.nn.functional as F

    w_pos = model.W_pos.detach().double()
    cos = F.cosine_similarity(w_pos.unsqueeze(1), w_pos.unsqueeze(0), dim=-1).tolist()
    positions = list(range(len(cos)))
    return Panel(
        "W_pos cosine similarity",
        "position j",
        "position i",
        heatmap=Heatmap(cos, positions, positions, "cosine similarity"),
    )


def reversal_views(run: Run, model: Any, task: Any) -> Figure:
    """Seed 004's ``compare_to_embeddings`` and MLP-output dump, on the first holdout example:
    the cosine of the last block's resid_post at each output position with each symbol's
    embedding, and layer 0's MLP output at every position."""
    import torch

    # deferred: torch, only for the seed presets' views
    from grok.measures.tasks import embedding_cosines

    x, _ = task.dataset()
    first = x[task.split(len(x)).test[:1]]
    with torch.no_grad():
        _, cache = model.run_with_cache(
            first, names_filter=lambda n: n.endswith(("hook_resid_post", "hook_mlp_out"))
        )
        resid = cache["resid_post", model.cfg.n_layers - 1][0, task.read_pos]
        cos = embedding_cosines(resid, model.W_E[: task.vocab]).tolist()
        mlp_out = cache["mlp_out", 0][0].tolist()
    symbols = list(range(task.vocab))
    outputs = list(range(task.read_pos.start, task.read_pos.stop))
    sequence = " ".join(str(int(t)) for t in first[0])
    return Figure(
        "reversal_embeddings",
        f"{run.identity}: first holdout sequence [{sequence}]",
        [
            Panel(
                "cos(resid_post, W_E[symbol]) at the outputs",
                "symbol",
                "position",
                heatmap=Heatmap(cos, symbols, outputs, "cosine"),
            ),
            Panel(
                "layer 0 MLP output",
                "d_model",
                "position",
                heatmap=Heatmap(
                    mlp_out, list(range(len(mlp_out[0]))), list(range(len(mlp_out))), "value"
                ),
            ),
        ],
    )


def llc_curve(run: Run) -> list[Figure]:
    """Seed 002's last plot: the LLC estimate per checkpoint beside the train / test metric."""
    rows = [r for r in run.rows if _finite(r.get("llc/mean"))]
    if not rows:
        return []
    epochs = [r["epoch"] for r in rows]
    mean = [r["llc/mean"] for r in rows]
    std = [r.get("llc/std") if _finite(r.get("llc/std")) else 0.0 for r in rows]
    llc = Series(
        epochs,
        mean,
        "LLC",
        spread=(
            [m - s for m, s in zip(mean, std, strict=True)],
            [m + s for m, s in zip(mean, std, strict=True)],
        ),
    )
    metric = run.milestone_metric
    split_panel = Panel(f"train / test {metric}", "epoch", metric)
    for split in ("train", "test"):
        pts = [
            (r["epoch"], r[f"{split}_{metric}"])
            for r in run.rows
            if _finite(r.get(f"{split}_{metric}"))
        ]
        split_panel.series.append(Series([e for e, _ in pts], [v for _, v in pts], split))
    return [
        Figure(
            "llc",
            f"{run.identity}: local learning coefficient",
            [Panel("LLC estimate (mean +- std over chains)", "epoch", "LLC", [llc]), split_panel],
        )
    ]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)

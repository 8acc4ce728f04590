"""Figures of one run: curves and measures from metrics.jsonl, mechanisms from its checkpoint."""

from __future__ import annotations

import math
from typing import Any

from grok.report import posthoc
from grok.report.representations import hidden_progress, representations
from grok.report.runs import column
from grok.report.seed_views import llc_curve, reversal_views, sine_pos_cosine
from grok.report.spec import Figure, Heatmap, Panel, Series, milestone_markers, phase_spans
from grok.store import DamagedFile, RunStore, load_checkpoint
from grok.store.catalog import Run

METRIC_NAMES = {"acc": "accuracy", "mae": "mean absolute error", "r2": "R²"}


def curves(run: Run) -> list[Figure]:
    rows = run.rows
    if not rows:
        return []
    spans = phase_spans(run.summary, rows[-1]["epoch"])
    metric = run.milestone_metric
    marks = milestone_markers(run.summary)
    loss = Panel("loss", "epoch", "loss (log)", logy=True, spans=spans, markers=marks)
    name = METRIC_NAMES.get(metric, metric)
    acc = Panel(name, "epoch", name, spans=spans, markers=marks)
    for split in ("train", "test"):
        loss.series.append(Series(*column(rows, f"{split}_loss"), label=split))
        acc.series.append(Series(*column(rows, f"{split}_{metric}"), label=split))
    title = f"{run.identity}: training curves"
    if note := (run.summary.get("phases") or {}).get("note"):
        title += f" (phases approximate: {note})"
    return [Figure("curves", title, [loss, acc])]


def progress(run: Run) -> list[Figure]:
    """Online measures (metrics.jsonl), with the post hoc ones (``grok measure``) beside."""
    rows = run.rows
    spans = phase_spans(run.summary, rows[-1]["epoch"]) if rows else []
    post = posthoc.loss_panel(run, spans)
    online = _has(rows, "weights/total")
    if not online and post is None:
        return []
    panels = []
    if _has(rows, "fourier/restricted_loss"):
        losses = Panel("restricted / excluded loss", "epoch", "loss (log)", logy=True, spans=spans)
        for key, label in (
            ("test_loss", "test"),
            ("fourier/restricted_loss", "restricted (test)"),
            ("fourier/excluded_loss", "excluded (train)"),
        ):
            losses.series.append(Series(*column(rows, key), label))
        panels.append(losses)
    if post is not None:
        panels.append(post)
    gini = Panel("Gini of Fourier norms", "epoch", "Gini", spans=spans)
    gini.series = [Series(*column(rows, k), label) for k, label in posthoc.GINI if _has(rows, k)]
    gini.series += posthoc.gini_series(run)
    if gini.series:
        panels.append(gini)
    if online:
        weights = Series(*column(rows, "weights/total"), "total")
        panels.append(
            Panel(
                "sum of squared weights", "epoch", "sum of squared weights", [weights], spans=spans
            )
        )
    return [Figure("progress", f"{run.identity}: progress measures", panels)]


def _has(rows: list[dict[str, Any]], key: str) -> bool:
    return any(key in r for r in rows)


def fourier_norms(run: Run) -> list[Figure]:
    rows = [r for r in run.rows if isinstance(r.get("fourier/embed_norms"), list)]
    if not rows:
        return []
    final = rows[-1]["fourier/embed_norms"]
    freqs = list(range(1, len(final) + 1))
    bar = Panel(
        "W_E Fourier norms (final)",
        "frequency k (k and p-k folded)",
        "norm",
        [Series(freqs, final, "W_E", kind="bar")],
    )
    heat = Panel(
        "W_E Fourier norms over training",
        "epoch",
        "frequency k",
        heatmap=Heatmap(
            [list(col) for col in zip(*[r["fourier/embed_norms"] for r in rows], strict=True)],
            [r["epoch"] for r in rows],
            freqs,
            "norm",
        ),
    )
    return [Figure("fourier_norms", f"{run.identity}: Fourier norms of the embedding", [bar, heat])]


def mechanism(run: Run) -> list[Figure]:
    """Figures that need the weights: embedding circles, neuron clusters, attention, task views."""
    loaded = _load_model(run)
    if loaded is None:
        return []
    model, task = loaded
    figures = [_attention(run, model, task)]
    name = type(task).__name__
    if name == "ModularTask":
        figures += _modular(run, model, task)
    elif name == "SineTask":
        figures.append(_sine(run, model, task))
    elif name == "ReversalTask":
        figures += [_reversal(run), reversal_views(run, model, task)]
    elif name == "FractionTask":
        figures.append(_fraction(run, model, task))
    return [f for f in figures if f is not None]


def _load_model(run: Run):
    """The newest readable checkpoint's model and task, through the one loader."""
    import warnings

    for epoch in reversed(RunStore(run.dir).checkpoint_epochs("weights")):
        try:
            ckpt = load_checkpoint(run.dir, epoch)
        except (DamagedFile, FileNotFoundError) as e:
            warnings.warn(f"{e}; trying an older checkpoint", stacklevel=2)
            continue
        return ckpt.model, ckpt.task
    return None


def _sample_inputs(task: Any, n: int = 512):

    x, y = task.dataset()
    idx = task.split(len(x)).test[:n]
    return x[idx], y[idx]


def _attention(run: Run, model: Any, task: Any) -> Figure | None:
    import torch

    if task.input_kind != "tokens" or not any(n.endswith("hook_pattern") for n in model.hook_dict):
        return None  # no attention (model.arch=mlp)
    x, _ = _sample_inputs(task)
    with torch.no_grad():
        _, cache = model.run_with_cache(x, names_filter=lambda n: n.endswith("hook_pattern"))
    panels = []
    for layer in range(model.cfg.n_layers):
        pattern = cache["pattern", layer].mean(0)  # [heads, q, k]
        for h in range(pattern.shape[0]):
            z = pattern[h].tolist()
            positions = list(range(len(z)))
            names = task.position_names
            panels.append(
                Panel(
                    f"L{layer} H{h}",
                    "key position",
                    "query position",
                    heatmap=Heatmap(z, positions, positions, "attention"),
                    ticklabels={"x": (positions, names), "y": (positions, names)},
                )
            )
    return Figure("attention", f"{run.identity}: mean attention pattern per head", panels[:9])


def _modular(run: Run, model: Any, task: Any) -> list[Figure]:
    import torch

    # deferred: torch, only for figures that recompute from weights
    from grok.measures.fourier import frequency_energy, key_frequencies, op_group
    from grok.measures.modular import FourierMeasure, model_forward
    from grok.measures.nanda import accumulate, neuron_freq_norm, pair_chunks

    group = op_group(task.op, task.p)
    tokens = group.tokens if group else torch.arange(task.p)
    w_e = model.W_E.detach()[tokens].double()
    energy = frequency_energy(w_e)
    keys = (torch.nonzero(key_frequencies(energy))[:, 0] + 1).tolist()
    n = len(tokens)
    j = torch.arange(n, dtype=torch.float64)
    circles = []
    for k in keys[:6]:
        cos_dir = torch.cos(2 * math.pi * k * j / n) @ w_e
        sin_dir = torch.sin(2 * math.pi * k * j / n) @ w_e
        basis = torch.stack([cos_dir / cos_dir.norm(), sin_dir / sin_dir.norm()], dim=1)
        xy = (w_e - w_e.mean(0)) @ basis
        circles.append(
            Panel(
                f"k = {k}",
                "cos direction",
                "sin direction",
                [
                    Series(
                        xy[:, 0].tolist(),
                        xy[:, 1].tolist(),
                        f"k={k}",
                        kind="scatter",
                        text=[str(int(t)) for t in tokens],
                    )
                ],
                equal_aspect=True,
            )
        )
    figures = []
    if circles:
        figures.append(
            Figure(
                "embedding_circles",
                f"{run.identity}: embeddings on each key frequency's circle",
                circles,
            )
        )
    if group is not None:
        forward = model_forward(model, task)  # the forward the measure runs on each member
        width = task.p + model.cfg.d_mlp + model.cfg.d_model
        with torch.no_grad():
            chunks = pair_chunks(group, forward, task.encode, width, torch.device("cpu"))
            fractions = neuron_freq_norm(
                accumulate(group, chunks, FourierMeasure.train_mask(task, group))
            )
        best_frac, best = fractions.max(dim=0)
        counts = torch.bincount(best[best_frac > 0.5] + 1, minlength=group.n_freqs + 1)[1:]
        freqs = list(range(1, group.n_freqs + 1))
        figures.append(
            Figure(
                "neuron_clusters",
                f"{run.identity}: neurons by best frequency",
                [
                    Panel(
                        "neurons per frequency (> 50% explained)",
                        "frequency k",
                        "neurons",
                        [Series(freqs, counts.tolist(), "neurons", kind="bar")],
                    ),
                    Panel(
                        "variance explained by each neuron's best frequency",
                        "neuron (sorted)",
                        "fraction",
                        [
                            Series(
                                list(range(len(best_frac))),
                                best_frac.sort(descending=True).values.tolist(),
                                "neurons",
                            )
                        ],
                    ),
                ],
            )
        )
    return figures


def _sine(run: Run, model: Any, task: Any) -> Figure:
    import torch

    # deferred: torch, only for figures that recompute from weights
    from grok.measures.tasks import pca_explained

    k = torch.linspace(task.k_min, task.k_max, 200)[:, None]
    with torch.no_grad():
        emb = (k @ model.embed.W_E + model.embed.b_E).double()
        centered = emb - emb.mean(0)
        _, _, v = torch.linalg.svd(centered, full_matrices=False)
        pc = centered @ v[:2].T
        pos = model.W_pos.detach().double()
    ratios = pca_explained(pos)[:10].tolist()
    return Figure(
        "sine_pca",
        f"{run.identity}: k-embedding and positional embedding",
        [
            Panel(
                "k-embedding PC1, PC2 against k",
                "k",
                "projection",
                [
                    Series(k[:, 0].tolist(), pc[:, 0].tolist(), "PC1"),
                    Series(k[:, 0].tolist(), pc[:, 1].tolist(), "PC2"),
                ],
            ),
            Panel(
                "W_pos PCA: explained variance",
                "component",
                "ratio",
                [Series(list(range(1, len(ratios) + 1)), ratios, "W_pos", kind="bar")],
            ),
            sine_pos_cosine(model),
        ],
    )


def _reversal(run: Run) -> Figure | None:
    last = next((r for r in reversed(run.rows) if "reversal/acc" in r), None)
    if last is None:
        return None
    heads = sorted(k for k in last if k.startswith("reversal/mirror_attn_"))
    ablations = sorted(k for k in last if k.startswith("reversal/ablate_"))
    return Figure(
        "reversal",
        f"{run.identity}: reversal mechanism",
        [
            Panel(
                "attention on the mirrored input",
                "layer/head",
                "mean attention",
                [
                    Series(
                        [h.rsplit("_", 1)[-1] for h in heads],
                        [last[h] for h in heads],
                        "mirror",
                        kind="bar",
                    )
                ],
            ),
            Panel(
                "accuracy drop when zero-ablated",
                "component",
                "drop",
                [
                    Series(
                        [a.removeprefix("reversal/ablate_") for a in ablations],
                        [last[a] for a in ablations],
                        "ablation",
                        kind="bar",
                    )
                ],
            ),
        ],
    )


def _fraction(run: Run, model: Any, task: Any) -> Figure:
    import torch

    x, y = _sample_inputs(task, 256)
    with torch.no_grad():
        pred = task.predictions(model(x, read_pos=task.read_pos))
    return Figure(
        "fraction_predictions",
        f"{run.identity}: predicted vs true running fraction",
        [
            Panel(
                "test predictions",
                "true fraction",
                "predicted",
                [
                    Series(
                        y.flatten().tolist(), pred.flatten().tolist(), "positions", kind="scatter"
                    ),
                    Series([0, 1], [0, 1], "ideal"),
                ],
            ),
        ],
    )


def run_figures(run: Run) -> list[Figure]:
    figures = [*curves(run), *progress(run), *llc_curve(run), *fourier_norms(run)]
    return [*figures, *representations(run), *hidden_progress(run), *mechanism(run)]

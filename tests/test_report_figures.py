"""Run figures fit for a lab meeting: titles from the run's identity, milestone markers,
one legend entry per label, the same colour for a series in every panel and in PNG and HTML,
a marker for a single point (synthetic run dirs with the real file layout)."""

import json
from pathlib import Path

from grok.report import find_runs
from grok.report.render import draw_png, plotly_figure
from grok.report.run_figures import curves, progress
from grok.report.seed_views import llc_curve


def make_run(run: Path, rows: list[dict], summary: dict, overrides: list[str]) -> Path:
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    config = {"task": {"name": "modsub", "p": 47}, "optim": {"wd": 1.0}, "model": {"seed": 0}}
    (run / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "summary.json").write_text(json.dumps({"status": "done", **summary}))
    return run


def grokked(tmp_path: Path, phases: bool = True) -> Path:
    rows = [
        {
            "epoch": e,
            "train_loss": 3 / (1 + e),
            "test_loss": 3.0 if e < 600 else 1e-4,
            "train_acc": min(1.0, e / 100),
            "test_acc": 0.05 if e < 600 else 1.0,
            "weights/total": 500.0 - e / 10,
        }
        for e in range(0, 1000, 50)
    ]
    summary = {"grok_epoch": 600, "memorization_epoch": 100}
    if phases:
        summary["phases"] = {"memorization_end": 100}
    return make_run(tmp_path / "12-00-00", rows, summary, ["experiment=quickstart", "optim.wd=1.0"])


def test_curves_name_the_run_and_mark_its_milestones(tmp_path):
    run = find_runs(grokked(tmp_path))[0]
    fig = curves(run)[0]
    assert fig.title == "modsub p=47, experiment=quickstart, optim.wd=1.0: training curves"
    for panel in fig.panels:
        assert panel.markers == [(100.0, "memorization (epoch 100)"), (600.0, "grok (epoch 600)")]
    assert fig.panels[1].ylabel == "accuracy"
    drawn = draw_png(fig)
    assert len(drawn.legends) == 1  # one legend beside both panels, none over the data
    texts = [t.get_text() for t in drawn.legends[0].get_texts()]
    assert texts == [
        "memorization phase",
        "memorization (epoch 100)",
        "grok (epoch 600)",
        "train",
        "test",
    ]
    assert all(ax.get_legend() is None for ax in drawn.axes)


def test_html_colours_match_across_panels_and_legends_are_unique(tmp_path):
    run = find_runs(grokked(tmp_path))[0]
    html = plotly_figure(curves(run)[0])
    lines = [
        t for t in html.data if t.name in ("train", "test") or t.legendgroup in ("train", "test")
    ]
    colours = {}
    for trace in lines:
        colours.setdefault(trace.legendgroup, set()).add(trace.line.color)
    assert colours["train"] != colours["test"] and all(len(c) == 1 for c in colours.values())
    shown = [t.name for t in html.data if t.showlegend]
    assert len(shown) == len(set(shown)) and {"train", "test", "grok (epoch 600)"} <= set(shown)
    assert html.layout.yaxis.exponentformat == "power"  # 10^-4, not "100μ", on the loss axis
    png = draw_png(curves(run)[0])
    mpl = [
        line.get_color()
        for ax in png.axes
        for line in ax.get_lines()
        if line.get_label() == "train"
    ]
    assert len(set(mpl)) == 1 and mpl[0] in colours["train"]  # the PNG's train is the HTML's


def test_weights_panel_has_a_y_label_and_no_single_entry_legend(tmp_path):
    run = find_runs(grokked(tmp_path, phases=False))[0]
    fig = progress(run)[0]
    panel = next(p for p in fig.panels if p.title == "sum of squared weights")
    assert panel.ylabel == "sum of squared weights"
    drawn = draw_png(fig)
    assert all(ax.get_legend() is None for ax in drawn.axes)  # "total" alone is not a legend


def test_a_single_llc_point_is_drawn_with_a_marker(tmp_path):
    rows = [{"epoch": 0, "train_mae": 0.3, "test_mae": 0.3}, {"epoch": 10, "llc/mean": 5.0}]
    run = find_runs(make_run(tmp_path / "r", rows, {"milestone": {"metric": "mae"}}, []))[0]
    fig = llc_curve(run)[0]
    assert fig.panels[0].series[0].x == [10]
    line = draw_png(fig).axes[0].get_lines()[0]
    assert line.get_marker() == "o"
    llc = next(t for t in plotly_figure(fig).data if t.name == "LLC")
    assert llc.mode == "lines+markers"

"""Sweep figures by the swept key: seeds pooled as replicates, --color-by / --x, categorical
axes, one legend entry per label (synthetic run dirs with the real file layout)."""

import json
from pathlib import Path

import pytest

from grok.cli import main as grok_main
from grok.report import find_runs, report
from grok.report.groups import UnknownKey
from grok.report.render import draw_png, plotly_figure
from grok.report.sweep import sweep_figures


def make_sweep(root: Path, values: dict[str, list], grok=lambda cfg: 500) -> Path:
    """One run dir per combination of ``values`` (dotted keys), in Hydra's job order."""
    import itertools

    keys = list(values)
    for num, combo in enumerate(itertools.product(*values.values())):
        cfg = dict(zip(keys, combo, strict=True))
        run = root / (f"{num}_" + ",".join(f"{k}={v}" for k, v in cfg.items()))
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {k}={v}\n" for k, v in cfg.items())
        )
        nested: dict = {}
        for key, value in cfg.items():
            head, _, leaf = key.rpartition(".")
            node = nested
            for part in head.split(".") if head else []:
                node = node.setdefault(part, {})
            node[leaf] = value
        (run / "config.yaml").write_text(json.dumps(nested))  # JSON is YAML
        epoch = grok(cfg)
        rows = [
            {
                "epoch": e,
                "train_loss": 1.0,
                "test_loss": 2.0,
                "train_acc": 1.0,
                "test_acc": float(e >= epoch),
            }
            for e in range(0, 1000, 100)
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        summary = {"status": "done", "grok_epoch": epoch, "memorization_epoch": 100, "epochs": 1000}
        (run / "summary.json").write_text(json.dumps(summary))
    return root


@pytest.fixture
def seed_wd(tmp_path) -> Path:
    """The issue's sweep: model.seed=0,1,2 x optim.wd=1.0,2.0."""
    return make_sweep(
        tmp_path / "multirun",
        {"model.seed": [0, 1, 2], "optim.wd": [1.0, 2.0]},
        grok=lambda cfg: int(800 / cfg["optim.wd"]) + 100 * cfg["model.seed"],
    )


def figures_by_name(runs, **kw) -> dict:
    return {f.name: f for f in sweep_figures(runs, **kw)[0]}


def legend_texts(fig) -> list[list[str]]:
    drawn = draw_png(fig)
    legends = [*drawn.legends, *(ax.get_legend() for ax in drawn.axes if ax.get_legend())]
    return [[t.get_text() for t in legend.get_texts()] for legend in legends]


def test_seeds_are_replicates_and_the_swept_key_colours_the_curves(seed_wd):
    figures = figures_by_name(find_runs(seed_wd))
    curves = figures["sweep_curves"].panels[0]
    assert "colored by optim.wd" in curves.title and "model.seed" in curves.title
    assert [s.label for s in curves.series] == [
        "optim.wd=1.0 (median of 3)",
        "optim.wd=2.0 (median of 3)",
    ]
    assert all(s.spread is not None for s in curves.series)  # the seeds' IQR
    assert curves.series[0].color != curves.series[1].color
    milestones = figures["sweep_milestones"]
    assert [p.title for p in milestones.panels] == ["milestones vs optim.wd"]  # no seed axis
    panel = milestones.panels[0]
    assert panel.xticks == [1.0, 2.0] and not panel.categorical_x
    grok = next(s for s in panel.series if s.label.startswith("grok"))
    assert grok.x == [1.0, 2.0] and grok.y == [900.0, 500.0]  # median over the seeds
    for texts in legend_texts(figures["sweep_curves"]) + legend_texts(milestones):
        assert len(texts) == len(set(texts))


def test_x_and_color_by_choose_the_key_and_a_seed_axis_is_categorical(seed_wd):
    runs = find_runs(seed_wd)
    figures = figures_by_name(runs, color_by="model.seed", x="model.seed")
    panel = figures["sweep_milestones"].panels[0]
    assert panel.title == "milestones vs model.seed"
    assert panel.categorical_x and panel.xticks == ["0", "1", "2"]
    html_axis = plotly_figure(figures["sweep_milestones"]).layout.xaxis
    assert html_axis.type == "category" and list(html_axis.categoryarray) == ["0", "1", "2"]
    curves = figures["sweep_curves"].panels[0]
    assert len(curves.series) == 6  # seed x wd: nothing left to pool
    legend = {s.entry for s in curves.series}
    assert legend == {"model.seed=0", "model.seed=1", "model.seed=2"}  # one entry per colour
    assert all(isinstance(s.color, str) for s in curves.series)  # a seed is a label: hues
    assert legend_texts(figures["sweep_curves"]) == [
        ["model.seed=0", "model.seed=1", "model.seed=2"]
    ]
    shown = [t.name for t in plotly_figure(figures["sweep_curves"]).data if t.showlegend]
    assert shown == ["model.seed=0", "model.seed=1", "model.seed=2"]


def test_a_method_sweep_gets_categorical_axes(tmp_path):
    root = make_sweep(
        tmp_path / "m", {"method": ["baseline", "grokfast_ema"], "model.seed": [0, 1]}
    )
    figures = figures_by_name(find_runs(root))
    panel = figures["sweep_milestones"].panels[0]
    assert panel.title == "milestones vs method" and panel.categorical_x
    assert panel.xticks == ["baseline", "grokfast_ema"]
    curves = figures["sweep_curves"].panels[0].series
    assert [s.label for s in curves] == [
        "method=baseline (median of 2)",
        "method=grokfast_ema (median of 2)",
    ]


def test_cli_flags_and_an_unknown_key(seed_wd, capsys):
    assert (
        grok_main(
            ["report", str(seed_wd), "--no-png", "--x", "model.seed", "--color-by", "optim.wd"]
        )
        == 0
    )
    html = (seed_wd / "report" / "report.html").read_text()
    assert "milestones vs model.seed" in html
    assert grok_main(["report", str(seed_wd), "--color-by", "optim.nope"]) == 2
    err = capsys.readouterr().err
    assert "--color-by optim.nope" in err and "model.seed, optim.wd" in err
    with pytest.raises(UnknownKey):
        report(seed_wd, x="optim.nope")

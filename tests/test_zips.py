"""Zipped sweep dimensions (hydra_plugins/grok_launcher/zips.py): NAME=zip(KEY=...,KEY=...)."""

from __future__ import annotations

import pytest
import yaml

from hydra_plugins.grok_launcher.zips import parse_zip
from tests.conftest import TINY, launch

ZIP = "lr_wd=zip(optim.lr=choice(1e-2,3e-3),optim.wd=[0.5,1.0])"
# TINY without its optim.lr: a zipped key set on its own as well is refused (below)
SHORT = [o for o in TINY if not o.startswith("optim.lr=")]
SHORT += ["train.epochs=4", "train.eval_every=2", "logger=none", "measures.every=4"]


def test_rows_pair_element_i_of_every_member():
    z = parse_zip("x", "zip(model=choice(tiny,nanda),optim.lr=range(1,3),optim.wd=['a,b',c])")
    assert z.keys == ["model", "optim.lr", "optim.wd"]
    assert z.rows == [
        ["model=tiny", "optim.lr=1", "optim.wd='a,b'"],
        ["model=nanda", "optim.lr=2", "optim.wd=c"],
    ]


def test_a_zip_crossed_with_a_grid_runs_each_row_with_each_grid_value(tmp_path):
    """2 rows x 2 seeds: exactly 4 jobs, each with its row's lr and wd; the run dirs, config
    and load_sweep say the concrete values, and multirun.yaml keeps the zip itself."""
    from grok.results import load_sweep

    sweep = tmp_path / "sweep"
    launch("-m", ZIP, "model.seed=0,1", *SHORT, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    configs = [yaml.safe_load(p.read_text()) for p in sorted(sweep.glob("*/config.yaml"))]
    got = sorted((c["optim"]["lr"], c["optim"]["wd"], c["model"]["seed"]) for c in configs)
    assert got == [(0.003, 1.0, 0), (0.003, 1.0, 1), (0.01, 0.5, 0), (0.01, 0.5, 1)]
    names = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    rows = ["optim.lr=0.01,optim.wd=0.5"] * 2 + ["optim.lr=0.003,optim.wd=1.0"] * 2
    for i, (name, row) in enumerate(zip(names, rows, strict=True)):
        assert name.startswith(f"{i}_") and row in name and f"model.seed={i % 2}," in name
    table = load_sweep(sweep)
    assert {"optim.lr", "optim.wd", "model.seed"} <= set(table.columns)
    assert sorted(zip(table["optim.lr"], table["optim.wd"], strict=True)) == [
        (0.003, 1.0),
        (0.003, 1.0),
        (0.01, 0.5),
        (0.01, 0.5),
    ]
    multirun = yaml.safe_load((sweep / "multirun.yaml").read_text())
    assert multirun["hydra"]["sweeper"]["zips"]["lr_wd"].startswith("zip(optim.lr=choice(")


def test_the_dry_run_lists_the_zipped_rows(tmp_path):
    proc = launch("-m", ZIP, "model.seed=0,1", *SHORT, "hydra.launcher.dry_run=true", cwd=tmp_path)
    assert "4 job(s)" in proc.stdout
    assert "#2: optim.lr=0.003 optim.wd=1.0" in proc.stdout and "model.seed=0" in proc.stdout
    assert not (tmp_path / "multirun").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["lr_wd=zip(optim.lr=choice(1e-2,3e-3),optim.wd=[0.5,1.0,2.0])"],
            "optim.lr has 2 values, optim.wd has 3 values",
        ),
        ([ZIP, "optim.wd=1,2"], "optim.wd is zipped and also set as optim.wd="),
        (["optim=zip(optim.lr=choice(1e-2,3e-3),optim.wd=[0.5,1.0])"], "optim is a config key"),
        (["lr_wd=zip(optim.lr=choice(1e-2,3e-3))"], "needs at least two members"),
        (["lr_wd=zip(optim.lr=interval(0,1),optim.wd=[0.5,1.0])"], "a member is a list"),
        (["lr_wd=zip(optim.lrr=choice(1e-2,3e-3),optim.wd=[0.5,1.0])"], "optim.lrr: unknown key"),
    ],
)
def test_a_bad_zip_is_one_message_exit_2_and_nothing_written(tmp_path, args, message):
    proc = launch("-m", *args, *SHORT, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert message in proc.stderr and len(lines) <= 2, proc.stderr  # grok: ... (+ one detail)
    assert not (tmp_path / "multirun").exists()


def test_a_zip_without_multirun_is_refused():
    with pytest.raises(ValueError, match="add -m"):  # ZipError (Hydra may reload its module)
        from hydra_plugins.grok_launcher.zips import lower_command_line

        lower_command_line([ZIP])


def test_a_configured_sweep_may_zip_in_its_params(tmp_path):
    """The design's configured form: hydra.sweeper.params.NAME: zip(...) in a yaml."""
    own = tmp_path / "conf" / "experiment"
    own.mkdir(parents=True)
    (own / "zipped.yaml").write_text(
        "# @package _global_\nhydra:\n  sweeper:\n    params:\n"
        "      lr_wd: zip(optim.lr=choice(1e-2,3e-3),optim.wd=[0.5,1.0])\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    args = ["-m", "experiment=zipped", search, *SHORT, "hydra.launcher.dry_run=true"]
    proc = launch(*args, cwd=tmp_path)
    assert "2 job(s)" in proc.stdout and "optim.lr=0.003 optim.wd=1.0" in proc.stdout

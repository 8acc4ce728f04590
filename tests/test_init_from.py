"""``train.init_from``: a run that starts from another run's checkpoint (grok.train.init_from).

Packed == alone for both keys is checked by tests/test_keys.py's generated cases.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from grok.errors import ConfigError
from grok.report import listing, report
from grok.results import load_sweep
from grok.run import prepare_member, release_members, run, run_pack
from grok.store import RunStore
from grok.train.resume import Progress, restore
from grok.train.trainer import PackTrainer
from tests.conftest import TINY, launch, make_cfg, read_json, read_metrics

NUMBERS = ("train_loss", "train_acc", "test_loss", "test_acc")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A tiny run, trained once: checkpoints at 20, 40, 60 (state kept at 60 only)."""
    run_dir = tmp_path_factory.mktemp("source") / "src"
    run(make_cfg(*TINY, "logger=none"), run_dir, progress=False)
    return run_dir


def _cfg(*extra: str):
    return make_cfg(*TINY, "logger=none", *extra)


def test_a_run_starts_from_the_source_weights_and_records_them(source, tmp_path):
    summary = run(_cfg(f"train.init_from={source}", "train.epochs=20"), tmp_path / "new")
    weights = source / "checkpoints" / "weights_000060.pt"
    record = {
        "path": str(source.resolve()),
        "epoch": 60,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "optimizer": False,
    }
    assert summary["init_from"] == record
    assert read_json(tmp_path / "new" / "summary.json")["init_from"] == record
    assert yaml.safe_load((tmp_path / "new" / "config.yaml").read_text())["init_source"] == record
    # same config, same split: the first evaluation is the source's last, number for number
    first, last = read_metrics(tmp_path / "new")[0], read_metrics(source)[-1]
    assert first["epoch"] == 0 and last["epoch"] == 60
    assert {k: first[k] for k in NUMBERS} == {k: last[k] for k in NUMBERS}


def test_run_dir_at_epoch_starts_from_that_checkpoint(source, tmp_path):
    summary = run(_cfg(f"train.init_from={source}@20", "train.epochs=5"), tmp_path / "new")
    assert summary["init_from"]["epoch"] == 20
    rows = {r["epoch"]: r for r in read_metrics(source)}
    assert read_metrics(tmp_path / "new")[0]["test_loss"] == rows[20]["test_loss"]


def test_init_optimizer_loads_the_moments_but_not_the_step_count(source, tmp_path):
    cfg = _cfg(f"train.init_from={source}", "train.init_optimizer=true")
    member = prepare_member(cfg, tmp_path / "new")
    try:
        trainer = PackTrainer([member], progress=False)
        restore(trainer.stack, trainer.records, Progress(trainer.progress.device))
        saved = RunStore(source).load_file("state", 60)["optimizer"]
        optimizer = trainer.stack.optimizer
        for name, slots in saved["state"].items():
            for key, value in slots.items():
                assert torch.equal(optimizer.state[name][key][0], value), (name, key)
        assert saved["step"] > 0 and float(optimizer.step_count) == 0.0
        weights = RunStore(source).load_file("weights", 60)["model"]
        for name, p in trainer.stack.params.items():
            assert torch.equal(p[0], weights[name]), name
    finally:
        release_members([member])


def test_a_resumed_run_never_reads_the_source_again(source, tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(source, copy)
    new = tmp_path / "new"
    first = run(_cfg(f"train.init_from={copy}", "train.epochs=20"), new)
    shutil.rmtree(copy)  # the source is gone: resuming needs only the run's own checkpoints
    second = run(_cfg(f"train.init_from={copy}", "train.epochs=40"), new)
    assert second["status"] == "done" and second["epochs"] == 40
    assert second["init_from"] == first["init_from"]
    assert [s["start_epoch"] for s in second["segments"]] == [0, 20]
    assert yaml.safe_load((new / "config.yaml").read_text())["init_source"] == first["init_from"]


def test_the_resume_contract_refuses_another_source(source, tmp_path):
    new = tmp_path / "new"
    run(_cfg(f"train.init_from={source}", "train.epochs=20"), new)
    with pytest.raises(
        ConfigError, match=r"train.init_from: '[^']*' \(run dir\) -> '[^']*@20' \(now\)"
    ):
        run(_cfg(f"train.init_from={source}@20", "train.epochs=20"), new)


def test_members_of_one_pack_start_from_their_own_sources(source, tmp_path):
    runs = [
        (_cfg(f"train.init_from={source}@20", "train.epochs=5"), tmp_path / "a"),
        (_cfg(f"train.init_from={source}@40", "train.epochs=5"), tmp_path / "b"),
        (_cfg("train.epochs=5"), tmp_path / "c"),
    ]
    summaries = run_pack(runs)
    assert [s["pack"]["size"] for s in summaries] == [3, 3, 3]
    assert [(s.get("init_from") or {}).get("epoch") for s in summaries] == [20, 40, None]
    table = listing(tmp_path)
    assert "init_from" in table.splitlines()[0]
    assert "src@20" in table and "src@40" in table
    frame = load_sweep(tmp_path)
    assert frame.loc["a", "init_from"] == f"{source.resolve()}@20"


def _damaged(source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "damaged_src"
    shutil.copytree(source, copy)
    path = copy / "checkpoints" / "weights_000060.pt"
    path.write_bytes(path.read_bytes()[:200])
    return copy


BAD = {
    "missing dir": (lambda s, t: f"train.init_from={t / 'nowhere'}", "is not a directory"),
    "missing epoch": (lambda s, t: f"train.init_from={s}@33", "no checkpoint at epoch 33"),
    "damaged": (lambda s, t: f"train.init_from={_damaged(s, t)}", "cannot be read"),
    "another shape": (
        lambda s, t: f"train.init_from={s}",
        "d_vocab: 24 \\(source\\) -> 30 \\(this run\\)",
    ),
    "no state at that epoch": (
        lambda s, t: f"train.init_from={s}@20 train.init_optimizer=true",
        "kept no optimizer state at epoch 20",
    ),
    "optimizer without source": (lambda s, t: "train.init_optimizer=true", "needs train.init_from"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_sources_exit_2_with_one_message_and_nothing_created(source, tmp_path, case):
    make, message = BAD[case]
    overrides = make(source, tmp_path).split()
    if case == "another shape":
        overrides.append("task.p=29")
    run_dir = tmp_path / "out" / "run"
    proc = launch(
        *TINY, "logger=none", *overrides, f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("grok:")]
    assert len(errors) == 1, proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_sweep_with_a_bad_source_creates_no_sweep_dir(source, tmp_path):
    proc = launch(
        "-m",
        *TINY,
        "logger=none",
        f"train.init_from={source}@33",
        "optim.wd=0.1,1.0",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "2 jobs (#0, #1):" in proc.stderr and "no checkpoint at epoch 33" in proc.stderr
    assert not (tmp_path / "sweep").exists()
    dry = launch(*proc.args[2:], "hydra.launcher.dry_run=true", cwd=tmp_path, check=False)
    assert dry.returncode == 2 and "no checkpoint at epoch 33" in dry.stderr  # checked there too
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ungrok_sweep_collapses_below_the_critical_size_and_not_above(quickstart_alone, tmp_path):
    """Varma et al. 2023's ungrokking at CPU size: the grokked quickstart, continued on 10%
    of the pairs, loses test accuracy; continued on its own 60% it stays grokked."""
    sweep = tmp_path / "sweep"
    launch(
        "-m",
        "experiment=quickstart",
        "+sweep=ungrok",
        f"train.init_from={quickstart_alone}",
        "task.train_frac=0.1,0.6",
        "train.epochs=300",
        "train.progress=false",
        "logger=none",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    frame = load_sweep(sweep).sort_values("task.train_frac")
    dirs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert dirs == [
        "0_task.train_frac=0.1,train.epochs=300",
        "1_task.train_frac=0.6,train.epochs=300",
    ]
    assert (
        frame["init_from"]
        == f"{quickstart_alone.resolve()}@{read_json(quickstart_alone / 'summary.json')['epochs']}"
    ).all()
    start = [read_metrics(Path(p))[0]["test_acc"] for p in frame["path"]]
    assert min(start) > 0.9  # both start grokked
    low, high = frame["final.test_acc"]
    assert low < 0.8 and high > 0.95, (low, high)
    files = report(sweep, tmp_path / "report", png=True, x="task.train_frac")
    written = {p.name for group in files.values() for p in group}
    assert "sweep_continued.png" in written

"""train.checkpoint_schedule=log: log-spaced early checkpoints, so post hoc measures see
memorization."""

from grok.train.checkpoints import early_epochs
from tests.conftest import TINY, launch, make_cfg


def test_log_schedule_epochs():
    assert early_epochs(200) == [1, 2, 3, 4, 6, 7, 10, 13, 18, 24, 32, 42, 56, 75, 100, 133, 178]
    assert early_epochs(1) == []


def test_a_log_schedule_run_checkpoints_early_and_then_linearly(tmp_path):
    from grok.run import run
    from grok.store import RunStore

    cfg = make_cfg(*TINY, "train.checkpoint_schedule=log", "logger=none")  # every 20, 60 epochs
    run(cfg, tmp_path / "run", progress=False)
    epochs = RunStore(tmp_path / "run").checkpoint_epochs("weights")
    assert epochs == [1, 2, 3, 4, 6, 7, 10, 13, 18, 20, 40, 60]


def test_an_unknown_schedule_is_refused(tmp_path):
    proc = launch("train.checkpoint_schedule=sqrt", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "train.checkpoint_schedule='sqrt': allowed are ['linear', 'log']" in proc.stderr

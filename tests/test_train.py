"""Training writes a complete run dir, learns, and resumes exactly."""

import signal
import time

import pytest
import torch

from grok.run import run
from grok.store import RunStore
from grok.task import build_task
from grok.train import metric_names
from tests.conftest import TINY, launch, read_json, read_metrics, start_run


def test_run_dir_has_config_metrics_summary_and_checkpoints(tiny_cfg, tmp_path):
    summary = run(tiny_cfg(), tmp_path)
    assert summary == read_json(tmp_path / "summary.json")
    assert summary["status"] == "done" and summary["epochs"] == 60
    assert set(summary["final"]) == {
        "train_loss",
        "test_loss",
        "train_acc",
        "test_acc",
        "weight_norm",
    }
    assert summary["seeds"] == {"data_seed": 598, "model_seed": 999}
    assert {"torch", "transformer-lens", "hydra-core", "python"} <= set(summary["versions"])
    assert summary["wall_seconds"] > 0 and summary["epochs_per_second"] > 0
    assert summary["device"].startswith("cpu")
    rows = read_metrics(tmp_path)
    assert [r["epoch"] for r in rows] == list(range(0, 61, 5))
    assert set(metric_names(build_task(tiny_cfg().task))) <= set(rows[0])
    # it learns: training loss falls far below the uniform log(23) and memorizes
    assert rows[0]["train_loss"] == pytest.approx(torch.log(torch.tensor(23.0)).item(), rel=0.1)
    assert rows[-1]["train_loss"] < 0.5 * rows[0]["train_loss"]
    store = RunStore(tmp_path)
    assert store.checkpoint_epochs("weights") == [20, 40, 60]
    assert store.checkpoint_epochs("state") == [60]  # keep_checkpoints=1
    weights, state = store.load_checkpoint(60)
    assert weights["embed.W_E"].shape == (24, 32)
    assert state["metrics_rows"] == len(rows)
    resolved = (tmp_path / "config.yaml").read_text()
    assert "p: 23" in resolved and "${" not in resolved


def test_milestones_from_metrics(tiny_cfg, tmp_path):
    summary = run(tiny_cfg("train.epochs=300", "train.checkpoint_every=300"), tmp_path)
    rows = read_metrics(tmp_path)
    first = next(r["epoch"] for r in rows if r["train_acc"] >= 0.99)
    assert summary["memorization_epoch"] == first
    assert summary["grok_epoch"] is None or summary["grok_epoch"] >= first


def test_same_config_same_numbers(tiny_cfg, tmp_path):
    a = run(tiny_cfg(), tmp_path / "a")
    b = run(tiny_cfg(), tmp_path / "b")
    assert a["final"] == b["final"]
    assert (
        read_metrics(tmp_path / "a")[-1]["test_loss"]
        == read_metrics(tmp_path / "b")[-1]["test_loss"]
    )


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


def test_rerun_of_a_finished_run_changes_nothing(tiny_cfg, tmp_path):
    first = run(tiny_cfg(), tmp_path)
    rows = read_metrics(tmp_path)
    again = run(tiny_cfg(), tmp_path)
    assert again["final"] == first["final"]
    assert _strip(read_metrics(tmp_path)) == _strip(rows)


def test_resume_false_starts_over(tiny_cfg, tmp_path):
    run(tiny_cfg(), tmp_path)
    run(tiny_cfg("train.resume=false", "train.epochs=20"), tmp_path)
    assert read_metrics(tmp_path)[-1]["epoch"] == 20
    assert RunStore(tmp_path).checkpoint_epochs("weights") == [20]


# 1000 epochs: the signal comes at epoch 250, well before the end
RESUME_ARGS = [*TINY, "train.epochs=1000", "train.checkpoint_every=100", "train.log_every=10"]


def _start(run_dir):
    return start_run(run_dir, *RESUME_ARGS)


def _wait_for_epoch(run_dir, epoch, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        if (run_dir / "metrics.jsonl").exists():
            rows = (run_dir / "metrics.jsonl").read_text().splitlines()
            if len(rows) > 1 and int(rows[-1].split(",")[0].split(":")[1]) >= epoch:
                return
        time.sleep(0.05)
    raise TimeoutError(f"run never reached epoch {epoch}")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_interrupted_run_resumes_to_identical_metrics(tmp_path, how):
    """Stop a run mid-way (graceful SIGTERM, or SIGKILL between checkpoints), rerun the same
    command on the same run dir, and get exactly an uninterrupted run's metrics."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    launch(*RESUME_ARGS, f"hydra.run.dir={whole}", cwd=tmp_path)

    proc = _start(cut)
    _wait_for_epoch(cut, 250, proc)
    proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    proc.wait(timeout=60)
    stopped_at = read_metrics(cut)[-1]["epoch"]
    assert stopped_at < 1000
    if how == "sigterm":
        assert proc.returncode == 128 + signal.SIGTERM
        summary = read_json(cut / "summary.json")
        assert summary["status"] == "interrupted"
        assert RunStore(cut).resumable_epochs()[-1] == summary["epochs"]
    else:
        assert proc.returncode == -signal.SIGKILL
        assert read_json(cut / "summary.json")["status"] == "running"

    launch(*RESUME_ARGS, f"hydra.run.dir={cut}", cwd=tmp_path)
    done, reference = read_json(cut / "summary.json"), read_json(whole / "summary.json")
    assert done["status"] == "done"
    assert done["final"] == reference["final"]
    assert done["memorization_epoch"] == reference["memorization_epoch"]
    assert _strip(read_metrics(cut)) == _strip(read_metrics(whole))


def test_resume_true_without_checkpoint_is_an_error(tiny_cfg, tmp_path):
    from grok.errors import ConfigError

    with pytest.raises(ConfigError, match=r"train\.resume=true"):
        run(tiny_cfg("train.resume=true"), tmp_path)

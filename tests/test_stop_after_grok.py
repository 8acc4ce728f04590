"""train.stop_after_grok: a run stops N epochs after it groks; a stopped member leaves its pack.

Sequence reversal at its smallest (81 sequences, the tiny model) groks in seconds: at epoch
~150 with lr 1e-3 (seeds 0 and 1 a few evaluations apart), not by epoch 300 with lr 1e-4.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from grok.run import run_pack
from grok.store import RunStore
from tests.conftest import launch, make_cfg, read_json, read_metrics, start_launch

pytestmark = pytest.mark.e2e  # trained runs, a killed sweep and its resume: end to end

R = ["task=reversal", "task.length=4", "task.vocab=3", "model=tiny", "measures=none"]
R += ["logger=none", "train.progress=false", "hardware.threads=1", "optim.lr=1e-3"]
R += ["train.epochs=300", "train.eval_every=5", "train.log_every=50", "train.checkpoint_every=50"]
N = 20
SLOW = ["optim.lr=1e-4"]  # does not grok by epoch 300
# members of different stop epochs: G + 20, G' + 5 (another seed), and one that never groks
MEMBERS = [[f"train.stop_after_grok={N}"], ["model.seed=1", "train.stop_after_grok=5"]]
MEMBERS += [[*SLOW, "train.stop_after_grok=0"]]


def _numbers(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in read_metrics(run_dir)]


def _grok_epoch(rows: list[dict]) -> int | None:
    return next((r["epoch"] for r in rows if r["test_acc"] >= 0.99), None)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stop")


@pytest.fixture(scope="module")
def alone(root) -> list[Path]:
    """Each of MEMBERS trained alone; the first one as users run it (launch.py)."""
    first = root / "alone0"
    launch(*R, *MEMBERS[0], f"hydra.run.dir={first}", cwd=root)
    dirs = [first]
    for i, overrides in enumerate(MEMBERS[1:], start=1):
        dirs.append(root / f"alone{i}")
        run_pack([(make_cfg(*R, *overrides), dirs[-1])], progress=False)
    return dirs


def test_a_grokking_run_stops_n_epochs_after_its_grok_epoch(alone):
    run = alone[0]
    summary, rows = read_json(run / "summary.json"), read_metrics(run)
    grok = _grok_epoch(rows)
    assert grok is not None and grok + N < 300
    assert summary["status"] == "done" and summary["grok_epoch"] == grok
    assert summary["stopped"] == {"reason": "grokked", "epoch": grok + N, "grok_epoch": grok}
    assert summary["epochs"] == grok + N == rows[-1]["epoch"]
    assert summary["segments"][-1]["end_epoch"] == grok + N
    assert summary["final"] == {k: rows[-1][k] for k in summary["final"]}
    assert summary["final"]["test_acc"] >= 0.99
    store = RunStore(run)
    assert store.resumable_epochs()[-1] == grok + N
    assert store.checkpoint_epochs("weights")[-1] == grok + N


def test_a_run_that_never_groks_trains_to_train_epochs(alone):
    summary, rows = read_json(alone[2] / "summary.json"), read_metrics(alone[2])
    assert summary["status"] == "done" and summary["grok_epoch"] is None
    assert "stopped" not in summary
    assert summary["epochs"] == 300 == rows[-1]["epoch"]
    assert RunStore(alone[2]).resumable_epochs()[-1] == 300


def test_a_stopped_run_met_again_is_finished_and_raising_n_continues_it_exactly(alone, root):
    run = alone[0]
    before = (run / "metrics.jsonl").read_bytes(), (run / "summary.json").read_bytes()
    launch(*R, *MEMBERS[0], f"hydra.run.dir={run}", cwd=root)
    assert ((run / "metrics.jsonl").read_bytes(), (run / "summary.json").read_bytes()) == before
    # raise N on a copy: it continues from the stop epoch's checkpoint, as train.epochs does
    more = root / "more"
    shutil.copytree(run, more)
    launch(*R, f"train.stop_after_grok={2 * N}", f"hydra.run.dir={more}", cwd=root)
    summary = read_json(more / "summary.json")
    grok = summary["grok_epoch"]
    assert summary["stopped"]["epoch"] == grok + 2 * N == read_metrics(more)[-1]["epoch"]
    assert [s["start_epoch"] for s in summary["segments"]] == [0, grok + N]
    # equal to the run trained with N=40 at once (G + 20 is an evaluation epoch, so the first
    # stop added no row of its own)
    fresh = root / "fresh"
    run_pack([(make_cfg(*R, f"train.stop_after_grok={2 * N}"), fresh)], progress=False)
    assert _numbers(more) == _numbers(fresh)
    # null continues it to train.epochs
    launch(*R, "train.stop_after_grok=null", f"hydra.run.dir={more}", cwd=root)
    assert read_json(more / "summary.json")["epochs"] == 300 == read_metrics(more)[-1]["epoch"]
    assert "stopped" not in read_json(more / "summary.json")
    # lowering N below the epochs trained is refused (a run dir never loses data)
    proc = launch(*R, "train.stop_after_grok=0", f"hydra.run.dir={more}", cwd=root, check=False)
    assert proc.returncode == 2 and "already trained 300 epochs" in proc.stderr


@pytest.mark.parametrize("fuse", [False, True], ids=["exact", "fused"])
def test_members_that_stop_at_different_epochs_equal_their_lone_runs(alone, tmp_path, fuse):
    """CPU exact path: bit for bit; the fused path (one vmap, re-stacked when a member
    leaves): the same stop rule, numbers within its tolerance."""
    cfgs = [make_cfg(*R, *m, f"train.fuse={str(fuse).lower()}") for m in MEMBERS]
    packed = run_pack([(c, tmp_path / str(i)) for i, c in enumerate(cfgs)], progress=False)
    stops = [s.get("stopped", {}).get("epoch") for s in packed]
    assert stops[0] is not None and stops[1] is not None and stops[2] is None
    assert stops[0] != stops[1]  # they leave the pack at different epochs
    # each record names its place in the pack as it started, not after others left
    places = [read_json(tmp_path / str(i) / "summary.json")["pack"] for i in range(3)]
    assert places == [s["pack"] for s in packed] == [{"size": 3, "index": i} for i in range(3)]
    for i, lone_dir in enumerate(alone):
        lone = read_json(lone_dir / "summary.json")
        mine = packed[i]
        if mine.get("stopped"):
            assert mine["stopped"]["epoch"] == mine["grok_epoch"] + [N, 5][i]
        if not fuse:
            assert _numbers(tmp_path / str(i)) == _numbers(lone_dir), i
            for key in ("status", "epochs", "final", "grok_epoch", "stopped"):
                assert mine.get(key) == lone.get(key), (i, key)
        else:
            assert abs(mine["epochs"] - lone["epochs"]) <= 20, i
            for key, value in lone["final"].items():
                assert mine["final"][key] == pytest.approx(value, rel=0.05, abs=2e-2), (i, key)


def _wait_for(predicate, proc, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.05)
    raise TimeoutError


def test_kill_after_one_member_stopped_resumes_only_the_others(tmp_path):
    """A packed sweep SIGKILLed after one member stopped: the rerun leaves the stopped run
    as it is and resumes the other exactly (it equals its lone run)."""
    sweep = tmp_path / "sweep"
    # 1000 epochs: the kill comes at ~300, the lr 1e-4 member's first checkpoint after that
    long = [*R, "train.epochs=1000", "train.stop_after_grok=0"]
    args = ["-m", *long, "optim.lr=1e-3,1e-4", f"hydra.sweep.dir={sweep}"]
    proc = start_launch(*args, cwd=tmp_path)

    def summary(run: Path) -> dict:
        try:
            return read_json(run / "summary.json")
        except (ValueError, FileNotFoundError):
            return {}  # being written

    def runs() -> list[Path]:
        return sorted(p for p in sweep.glob("*lr=*") if p.is_dir())

    def one_stopped_other_checkpointed() -> bool:
        stopped = [r for r in runs() if summary(r).get("stopped")]
        others = [r for r in runs() if r not in stopped]
        return bool(stopped) and any(
            RunStore(r).resumable_epochs() and RunStore(r).resumable_epochs()[-1] > 300
            for r in others
        )

    _wait_for(one_stopped_other_checkpointed, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done = next(r for r in runs() if summary(r).get("stopped"))
    other = next(r for r in runs() if r != done)
    assert summary(other)["status"] == "running"  # killed mid-run
    kept = {p: p.read_bytes() for p in done.rglob("*") if p.is_file() and p.suffix != ".lock"}
    launch(*args, cwd=tmp_path)
    after = {p: p.read_bytes() for p in done.rglob("*") if p.is_file() and p.suffix != ".lock"}
    assert after == kept  # the stopped member is untouched
    resumed = summary(other)
    assert resumed["status"] == "done" and len(resumed["segments"]) == 2
    lone = tmp_path / "lone"
    run_pack([(make_cfg(*long, *SLOW), lone)], progress=False)
    assert _numbers(other) == _numbers(lone)


@pytest.mark.parametrize("value", ["-1", "abc", "true", "1.5"])
def test_a_bad_stop_after_grok_is_refused_with_one_message(tmp_path, value):
    proc = launch(
        *R, f"train.stop_after_grok={value}", "hydra.run.dir=x", cwd=tmp_path, check=False
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "train.stop_after_grok" in line]
    assert len(lines) == 1 and "integer >= 0" in lines[0] and "null" in lines[0], proc.stderr
    assert not (tmp_path / "x").exists()


# --- re-stacking, cheaply: a milestone every run reaches at epoch 0 makes G = 0, so each
# member stops at exactly its own N; the tiny model keeps these packs to seconds.
TINY = ["model=tiny", "task.p=23", "measures=none", "logger=none", "train.progress=false"]
TINY += ["train.epochs=40", "train.eval_every=3", "train.log_every=20", "train.checkpoint_every=20"]
PACKS = {
    "adamw+grokfast_ma": [
        ["train.stop_after_grok=7"],
        ["method=grokfast_ma", "optim.grokfast.window=5", "model.seed=1"],
        ["method=grokfast_ema", "optim.wd=0.1", "train.stop_after_grok=16"],
    ],
    "muon": [
        ["method=muon", "train.stop_after_grok=0"],
        ["method=muon", "model.seed=1", "optim.muon.lr=0.01"],
        ["method=muon", "optim.fixed_norm=true", "train.stop_after_grok=11"],
    ],
}


@pytest.fixture
def every_run_groks_at_once(monkeypatch):
    from grok.task.base import Milestone
    from grok.task.modular import ModularTask

    monkeypatch.setattr(ModularTask, "milestone", Milestone("acc", True, 0.0))


@pytest.mark.parametrize("fuse", [False, True], ids=["exact", "fused"])
@pytest.mark.parametrize("pack", list(PACKS))
def test_method_state_survives_a_member_leaving(every_run_groks_at_once, tmp_path, pack, fuse):
    """Grokfast EMA/MA rings, Muon momentum and a fixed-norm target are re-stacked without
    the member that left: every member equals its lone run (bitwise on the exact path)."""
    members = [[*TINY, *m, f"train.fuse={str(fuse).lower()}"] for m in PACKS[pack]]
    packed = run_pack(
        [(make_cfg(*m), tmp_path / f"p{i}") for i, m in enumerate(members)], progress=False
    )
    for i, overrides in enumerate(members):
        after = make_cfg(*overrides).train.stop_after_grok
        expected = 40 if after is None else after
        assert packed[i]["epochs"] == expected == read_metrics(tmp_path / f"p{i}")[-1]["epoch"]
        assert (packed[i].get("stopped") or {}).get("epoch") == after
        lone = run_pack([(make_cfg(*overrides), tmp_path / f"a{i}")], progress=False)[0]
        if not fuse:
            assert _numbers(tmp_path / f"p{i}") == _numbers(tmp_path / f"a{i}"), i
            assert packed[i]["final"] == lone["final"]
        else:
            for key, value in lone["final"].items():
                assert packed[i]["final"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def test_the_dry_run_says_its_gpu_hours_are_an_upper_bound(tmp_path):
    sweep = ["-m", "experiment=quickstart", "hardware=bouchet", "model.seed=0,1"]
    stop = launch(*sweep, "hydra.launcher.dry_run=true", cwd=tmp_path).stdout
    off = launch(*sweep, "train.stop_after_grok=null", "hydra.launcher.dry_run=true", cwd=tmp_path)
    assert "GPU-hours" in stop and "an upper bound" in stop
    assert "GPU-hours" in off.stdout and "upper bound" not in off.stdout

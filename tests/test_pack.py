"""Fused packs: a member trains exactly as it would alone; multiruns pack by default."""

import pytest

from grok.packing import make_packs, pack_key
from grok.run import run_pack
from tests.conftest import QUICKSTART as QUICK
from tests.conftest import launch, make_cfg, read_json, read_metrics


def _numbers(run_dir):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in read_metrics(run_dir)]


@pytest.mark.slow
def test_quickstart_groks(quickstart_alone):
    summary = read_json(quickstart_alone / "summary.json")
    assert summary["status"] == "done"
    grok = summary["grok_epoch"]
    assert grok is not None and grok <= 1000
    assert summary["memorization_epoch"] < grok
    # train.epochs is a ceiling: the run stops 100 epochs after its grok (stop_after_grok),
    # before a late slingshot spike (Thilak et al. 2022) can dent its final row
    assert summary["stopped"] == {"reason": "grokked", "epoch": grok + 100, "grok_epoch": grok}
    assert read_metrics(quickstart_alone)[-1]["epoch"] == summary["epochs"] == grok + 100
    assert summary["final"]["test_acc"] >= 0.99


@pytest.mark.slow
def test_pack_member_is_bitwise_identical_to_the_run_alone(quickstart_alone, tmp_path):
    """Same config alone (subprocess) and as member 1 of a pack with different lr, wd,
    seed, split seed and train fraction (so it is padded): every metric identical. The
    others have more data and more weight decay, so they grok and leave the pack before
    member 1 rather than train on to the 1,200-epoch ceiling after it stopped."""
    cfgs = [
        make_cfg(
            *QUICK,
            "optim.lr=6e-3",
            "optim.wd=2.5",
            "model.seed=1",
            "task.train_frac=0.7",
            "task.data_seed=1",
        ),
        make_cfg(*QUICK),
        make_cfg(*QUICK, "optim.wd=3.0", "model.seed=2", "task.train_frac=0.8"),
    ]
    summaries = run_pack([(c, tmp_path / str(i)) for i, c in enumerate(cfgs)], progress=False)
    assert _numbers(tmp_path / "1") == _numbers(quickstart_alone)
    alone = read_json(quickstart_alone / "summary.json")
    assert summaries[1]["final"] == alone["final"]
    assert summaries[1]["grok_epoch"] == alone["grok_epoch"] is not None
    assert summaries[1]["pack"] == {"size": 3, "index": 1}
    assert summaries[0]["final"] != summaries[1]["final"]  # members really differ


def test_pack_keys_group_compatible_configs():
    base = make_cfg("model=tiny")
    same = [
        make_cfg("model=tiny", o)
        for o in (
            "optim.lr=0.1",
            "optim.wd=0",
            "model.seed=3",
            "task.train_frac=0.5",
            "task.data_seed=2",
            "task=modadd",
        )
    ]
    other = [
        make_cfg("model=tiny", o)
        for o in (
            "task.p=29",
            "model.d_mlp=32",
            "train.epochs=7",
            "optim=sgd",
            "train.loss_dtype=float32",
        )
    ]
    assert all(pack_key(c) == pack_key(base) for c in same)
    assert all(pack_key(c) != pack_key(base) for c in other)
    configs = [base, *same, *other]
    packs = make_packs(configs, max_members=4, memory_bytes=None)
    assert sorted(i for p in packs for i in p) == list(range(len(configs)))
    assert [len(p) for p in packs][:2] == [4, 3]  # 7 compatible jobs, at most 4 each: balanced
    assert len(packs) == 2 + len(other)
    tight = make_packs([base] * 6, max_members=64, memory_bytes=1)
    assert [len(p) for p in tight] == [1] * 6  # the memory budget bounds the pack size


def test_diverging_member_fails_alone(tmp_path):
    cfgs = [
        make_cfg(
            "model=tiny",
            "task.p=23",
            "train.epochs=30",
            "train.eval_every=10",
            "train.progress=false",
            f"optim.lr={lr}",
        )
        for lr in (1e-2, 1e12)
    ]
    good, bad = run_pack([(c, tmp_path / str(i)) for i, c in enumerate(cfgs)], progress=False)
    assert bad["status"] == "failed" and "non-finite" in bad["failure"]
    assert good["status"] == "done"
    alone = run_pack([(cfgs[0], tmp_path / "alone")], progress=False)[0]
    assert alone["final"] == good["final"]


# 2 x 2 jobs: packing by default and packed == unpacked need a grid of two keys, not its size
MULTIRUN = ["-m", *QUICK, "model.seed=0,1", "optim.wd=0.5,1.0", "train.epochs=150"]


@pytest.mark.slow
def test_multirun_packs_by_default_and_matches_unpacked(tmp_path):
    packed = launch(
        *MULTIRUN, cwd=tmp_path / "packed" if (tmp_path / "packed").mkdir() is None else None
    )
    assert "Training 4 jobs in 1 pack(s) of sizes [4]" in packed.stderr + packed.stdout
    (tmp_path / "single").mkdir()
    launch(*MULTIRUN, "hydra.launcher.pack=false", cwd=tmp_path / "single")
    runs = {}
    for mode in ("packed", "single"):
        dirs = sorted((tmp_path / mode).glob("multirun/*/*/*/*/summary.json"))
        assert len(dirs) == 4
        runs[mode] = {p.parent.name: read_json(p) for p in dirs}
    assert runs["packed"].keys() == runs["single"].keys()
    for name, summary in runs["packed"].items():
        alone = runs["single"][name]
        assert summary["pack"]["size"] == 4 and alone["pack"]["size"] == 1
        assert summary["final"] == alone["final"], name
        assert summary["memorization_epoch"] == alone["memorization_epoch"]

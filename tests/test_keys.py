"""The key table (grok/keys.py) classifies every config key, and its classification holds.

Generated from the table, not hand-listed: for every per-member key, a pack whose members
differ in it equals each member trained alone (metrics, measures, summary, checkpoints),
bit for bit on CPU; for every pack-wide key, configs that differ in it land in different
packs; a key in any conf/ or sweeps/ yaml without an entry fails here.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
import yaml

from grok import keys
from grok.errors import ConfigError
from grok.packing import make_packs, pack_key
from grok.run import run_pack
from grok.store import RunStore
from grok.train import Pack
from tests.conftest import ROOT, make_cfg, read_metrics

CONF = ROOT / "conf"


# --- where each key is defined ------------------------------------------------------------
def _yaml_keys(path: Path, prefix: str) -> list[str]:
    text = path.read_text()
    node = yaml.safe_load(text) or {}
    node.pop("defaults", None)
    node.pop("hydra", None)
    glob = "@package _global_" in text or not prefix
    return [k for k, _ in keys.flatten(node, "" if glob else prefix)]


@functools.cache
def definitions() -> dict[str, list[tuple[str, str]]]:
    """key -> [(group, option)] of the yaml files that set it ('' group: conf/config.yaml;
    'sweep': sweeps/)."""
    out: dict[str, list[tuple[str, str]]] = {}
    files = [(CONF / "config.yaml", "", "config")]
    files += [(p, p.parent.name, p.stem) for p in sorted(CONF.glob("*/*.yaml"))]
    files += [(p, "sweep", p.stem) for p in sorted((ROOT / "sweeps").glob("*.yaml"))]
    for path, group, option in files:
        prefix = group if group not in ("", "sweep", "experiment") else ""
        for key in _yaml_keys(path, prefix):
            out.setdefault(key, []).append((group, option))
    return out


def test_every_key_in_the_yaml_files_is_classified():
    found = definitions()
    unknown = [k for k in found if _unknown(k)]
    assert not unknown, f"add these keys to grok/keys.py KEYS: {unknown}"
    exact = [k for k in keys.KEYS if "*" not in k]
    stale = [k for k in exact if k not in found and k != "meta"]
    assert not stale, f"grok/keys.py lists keys no yaml defines: {stale}"
    assert len(found) > 100  # every preset's hardware partitions included


def _unknown(key: str) -> bool:
    try:
        keys.lookup(key)
    except keys.UnknownKey:
        return True
    return False


def test_an_unclassified_key_is_refused_with_a_suggestion():
    from grok.config import problems

    (error,) = problems(make_cfg("+optim.weight_decay=0"))
    assert "optim.weight_decay: unknown key" in error and "did you mean optim.wd?" in error
    assert problems(make_cfg("+meta.owner=alice", "notes=why")) == []


# --- cases generated from the table ---------------------------------------------------------
SMALL = {  # tiny sizes per task, so that every case trains in about a second
    "modular": ["task=modsub", "task.p=23", "task.train_frac=0.5"],
    "sine": ["task=sine", "task.n_points=10", "task.n_samples=100"],
    "reversal": ["task=reversal", "task.length=4", "task.vocab=3"],
    "group": ["task=group", "task.group=S4", "task.train_frac=0.5"],  # task.group's D12: 24 too
    "sparse_parity": ["task=sparse_parity", "task.n_bits=8", "task.n_samples=null"],  # 256
    "fraction": [
        "task=fraction",
        "task.n_samples=120",
        "task.length=6",
        "task.vocab=8",
        "task.x_token=5",
    ],
}
COMMON = [
    "model=tiny",
    "train.epochs=12",
    "train.eval_every=2",
    "train.log_every=4",
    "train.checkpoint_every=6",
    "measures.every=6",
    "measures.llc.num_draws=3",
    "measures.llc.batch_size=32",
    "train.progress=false",
]
# task yaml files that define a task
TASKS = ("modular", "sine", "reversal", "fraction", "group", "sparse_parity")
DEFAULTS = {"model": ("nanda", "tiny"), "optim": ("adamw",), "train": ("default",)}
DEFAULTS |= {"measures": ("default",), "logger": ("wandb",), "hardware": ("cpu",)}


def fmt(value) -> str:
    """A Python value as a Hydra override value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(fmt(v) for v in value) + "]"
    return str(value)


def base_for(key: str, task: str = "modular") -> list[str]:
    """Small overrides under which ``key`` exists: its task, and the option of its group
    that defines it when the default one does not (optim=sgd for optim.momentum ...)."""
    places = definitions().get(key, [])
    group = key.split(".")[0]
    chosen: list[str] = []
    if group in DEFAULTS and not any(o in DEFAULTS[group] for g, o in places if g == group):
        options = [o for g, o in places if g == group]
        option = next((o for o in options if not o.startswith("_")), None)
        if option is None:  # defined in a shared file (_yale): take an option that includes
            including = [  # it, the group's default one if that does (optim: _methods)
                p.stem
                for p in sorted((CONF / group).glob("[!_]*.yaml"))
                if f"- {options[0]}" in p.read_text()
            ]
            option = next((o for o in including if o in DEFAULTS[group]), including[0])
        chosen.append(f"{group}={option}")
    if all(g == "sweep" for g, _ in places):  # a key only a named sweep defines (eff_wd)
        chosen += [f"+sweep={o}" for g, o in places if g == "sweep"]
    logger = [] if group == "logger" else ["logger=none"]
    return [*chosen, *SMALL[task], *COMMON, *logger]


def cases(scopes: tuple[keys.Scope, ...]) -> list[tuple[str, str, list[str]]]:
    """(case id, key, base overrides) for every key of ``scopes`` with an example; a task
    key once for every task yaml that defines it."""
    out = []
    for key, entry in keys.KEYS.items():
        if entry.scope not in scopes or "*" in key or entry.example is None:
            continue
        tasks = [o for g, o in definitions().get(key, []) if g == "task" and o in TASKS]
        tasks = tasks or ([entry.task] if entry.task else [])
        if tasks:
            out += [(f"{key}[{t}]", key, base_for(key, t)) for t in tasks]
        else:
            out.append((key, key, base_for(key)))
    return out


MEMBER_CASES = cases((keys.Scope.MEMBER,))
PACK_CASES = cases((keys.Scope.PACK, keys.Scope.RUNTIME))
FREE_CASES = cases((keys.Scope.FREE,))


def test_every_member_key_is_covered():
    covered = {key for _, key, _ in MEMBER_CASES}
    member = {k for k, e in keys.KEYS.items() if e.scope is keys.Scope.MEMBER and "*" not in k}
    derived = {k for k in member if keys.KEYS[k].derived}
    assert member - derived == covered
    assert all(keys.KEYS[k].derived for k in derived)  # each says what it changes with
    assert len(MEMBER_CASES) >= 40, len(MEMBER_CASES)


def _select(cfg, key: str):
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key)


def _numbers(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in read_metrics(run_dir)]


SUMMARY_KEYS = ("status", "epochs", "final", "memorization_epoch", "grok_epoch", "phases", "seeds")


def _checkpoints(run_dir: Path) -> dict:
    store = RunStore(run_dir)
    out = {}
    for kind in ("weights", "state"):
        for epoch in store.checkpoint_epochs(kind):
            saved = store.load_file(kind, epoch)
            saved.pop("wall_seconds", None)
            out[(kind, epoch)] = saved
    return out


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@functools.cache
def _alone(overrides: tuple[str, ...], root: Path) -> tuple[Path, dict]:
    run_dir = root / f"alone_{abs(hash(overrides))}"
    summary = run_pack([(make_cfg(*overrides), run_dir)], progress=False)[0]
    return run_dir, summary


@functools.cache
def _source(overrides: tuple[str, ...], root: Path) -> str:
    """A run trained with a case's base config, for the examples that name
    ``keys.SOURCE_RUN`` (train.init_from)."""
    run_dir = root / f"source_{abs(hash(overrides))}"
    run_pack([(make_cfg(*overrides), run_dir)], progress=False)
    return str(run_dir)


def _with_source(overrides: tuple[str, ...], base: list[str], root: Path) -> tuple[str, ...]:
    if not any(keys.SOURCE_RUN in o for o in overrides):
        return overrides
    source = _source(tuple(base), root)
    return tuple(o.replace(keys.SOURCE_RUN, source) for o in overrides)


@pytest.fixture(scope="session")  # a cache: each pytest-xdist worker keeps its own
def alone_root(tmp_path_factory):
    _alone.cache_clear()
    _source.cache_clear()
    return tmp_path_factory.mktemp("alone")


@pytest.mark.parametrize(("case", "key", "base"), MEMBER_CASES, ids=[c[0] for c in MEMBER_CASES])
def test_member_key_packs_exactly_as_alone(case, key, base, tmp_path, alone_root):
    entry = keys.KEYS[key]
    configs = [(*base, *entry.context), (*base, *entry.context, f"{key}={fmt(entry.example)}")]
    configs = [_with_source(c, base, alone_root) for c in configs]
    cfgs = [make_cfg(*c) for c in configs]
    assert _select(cfgs[0], key) != _select(cfgs[1], key), "the example equals the base value"
    assert pack_key(cfgs[0]) == pack_key(cfgs[1])  # the packer puts them together
    packed = run_pack([(c, tmp_path / str(i)) for i, c in enumerate(cfgs)], progress=False)
    assert packed[0]["pack"]["size"] == 2
    for i, overrides in enumerate(configs):
        lone_dir, lone = _alone(overrides, alone_root)
        assert _numbers(tmp_path / str(i)) == _numbers(lone_dir), (case, i)
        for field in SUMMARY_KEYS:
            assert packed[i][field] == lone[field], (case, i, field)
        assert _same(_checkpoints(tmp_path / str(i)), _checkpoints(lone_dir)), (case, i)


@pytest.mark.parametrize(("case", "key", "base"), PACK_CASES, ids=[c[0] for c in PACK_CASES])
def test_pack_wide_key_splits_packs(case, key, base):
    entry = keys.KEYS[key]
    a = make_cfg(*base, *entry.context)
    b = make_cfg(*base, *entry.context, f"{key}={fmt(entry.example)}")
    assert _select(a, key) != _select(b, key), "the example equals the base value"
    assert make_packs([a, b], max_members=8, memory_bytes=None) == [[0], [1]]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        Pack([a, b])


@pytest.mark.parametrize(("case", "key", "base"), FREE_CASES, ids=[c[0] for c in FREE_CASES])
def test_free_key_never_splits_packs(case, key, base):
    entry = keys.KEYS[key]
    a = make_cfg(*base)
    b = make_cfg(*base, f"{key}={fmt(entry.example)}")
    assert make_packs([a, b], max_members=8, memory_bytes=None) == [[0, 1]]
    Pack([a, b])  # no complaint


def test_the_trainer_cannot_read_a_member_key_from_the_pack():
    pack = Pack([make_cfg(*base_for("train.epochs"))])
    assert pack.shared("train.epochs") == 12
    with pytest.raises(TypeError, match="per-member"):
        pack.shared("optim.lr")


def test_the_key_reference_is_current():
    assert (ROOT / "docs" / "config_keys.md").read_text() == keys.markdown()

"""Fast sweep planning composes exactly what Hydra's per-job compose does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from hydra_plugins.grok_launcher.preflight import Composer, _flat
from tests.conftest import CONF

MASTER = ["hydra/launcher=grok"]
JOBS = [  # each a job's overrides, as Hydra's sweeper hands them to the launcher
    ["experiment=nanda2023", "model.seed=3", "optim.wd=0.5", "optim.lr=0.002"],
    ["experiment=nanda2023", "model.seed=4", "optim.wd=2.0", "task.train_frac=0.45"],
    ["task=modadd", "optim.betas=[0.8,0.95]", "model.init_std=null"],
    ["task=modular", "task.op=mul", "task.p=31"],  # task.name interpolates task.op
    ["+sweep=eff_wd", "eff_wd=0.003", "optim.wd=3.0"],  # lr = eff_wd / wd
    ["+sweep=eff_wd", "optim.lr=0.01"],
    ["+meta.owner=alice", "notes=first", "model=tiny"],
    ["~meta", "train.epochs=7"],
    ["experiment=quickstart", "hardware=gpu", "measures.names=[weights]"],
    ["task=fraction", "task.x_count=[2,4]", "optim=sgd", "optim.nesterov=true"],
]


@pytest.fixture(scope="module")
def hydra_env():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        master = compose("config", overrides=MASTER, return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        yield loader, master
    GlobalHydra.instance().clear()


def _hydra_per_job(loader, master, overrides, num):
    from omegaconf import open_dict

    cfg = loader.load_sweep_config(master, list(overrides))
    with open_dict(cfg.hydra):
        cfg.hydra.job.id = cfg.hydra.job.num = num
    return cfg


@pytest.mark.parametrize("index", range(len(JOBS)))
def test_fast_compose_equals_hydras_per_job_compose(hydra_env, index):
    loader, master = hydra_env
    launcher = SimpleNamespace(hydra_context=SimpleNamespace(config_loader=loader), config=master)
    composer = Composer(launcher)
    job = composer.job(index, JOBS[index])
    reference = _hydra_per_job(loader, master, JOBS[index], index)
    assert job.flat == _flat(reference, resolve=True)  # what planning and validation read
    ours = OmegaConf.to_container(composer.config(job), resolve=False)
    theirs = OmegaConf.to_container(reference, resolve=False)
    assert ours == theirs  # what run_job gets: hydra node (overrides, dirname) included


def test_jobs_with_the_same_groups_share_one_composition(hydra_env):
    loader, master = hydra_env
    launcher = SimpleNamespace(hydra_context=SimpleNamespace(config_loader=loader), config=master)
    composer = Composer(launcher)
    for seed in range(50):
        composer.job(seed, ["experiment=nanda2023", f"model.seed={seed}", "optim.wd=0.3"])
    assert len(composer.bases) == 1

"""Hydra launcher ``hydra/launcher=grok``: validate every job, then train compatible jobs fused.

Hydra's launchers run one configuration per job; upstream declined packing
(hydra issues #2632, #2786). This launcher receives a multirun's jobs, checks
all of them before anything is written, lets Hydra's own ``run_job`` create each
job's dir and ``.hydra/`` files, then trains compatible jobs as packs in this
process. Each member still ends with its own run dir, metrics and summary.
"""
# No `from __future__ import annotations`: Hydra's plugin scanner executes this module
# before registering it in sys.modules, and dataclasses then cannot resolve string types.

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hydra_plugins.grok_launcher import preflight

log = logging.getLogger(__name__)


@dataclass
class GrokLauncherConf:
    _target_: str = "hydra_plugins.grok_launcher.grok_launcher.GrokLauncher"
    pack: bool = True  # train compatible jobs fused; false: one job at a time
    max_members: int = 256
    # per-pack memory budget; null: 80% of free GPU memory, no limit on CPU
    memory_gb: Optional[float] = None
    dry_run: bool = False  # print the jobs and packs, run nothing


ConfigStore.instance().store(
    group="hydra/launcher", name="grok", node=GrokLauncherConf, provider="grok"
)


def collect_member(task_cfg: DictConfig) -> Any:
    """A task function for ``run_job`` that trains nothing: Hydra has just created the job's
    dir and .hydra/ files; we record the member (config, dir, W&B naming) for its pack."""
    from grok.run import member_for_current_job

    return member_for_current_job(task_cfg)


def setup_members(hydra_context: HydraContext, configs: list) -> tuple[list, list]:
    """run_job for every config (dirs, .hydra/, logs, callbacks) -> (members, JobReturns)."""
    members, returns = [], []
    for cfg in configs:
        ret = run_job(
            hydra_context=hydra_context,
            task_function=collect_member,
            config=cfg,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        if ret.status != JobStatus.COMPLETED:
            raise ret.return_value
        members.append(ret.return_value)
        returns.append(ret)
    return members, returns


def train_members(members: list, returns: list) -> None:
    """Train one pack; each member's test metric becomes its job's return value."""
    from grok.train import train_pack

    progress = bool(members[0].cfg.train.get("progress", True))
    try:
        summaries = train_pack(members, progress=progress)
    except Exception as e:  # the whole pack failed (e.g. out of memory)
        log.error(f"pack of {len(members)} failed: {e!r}")
        for ret in returns:
            ret.status, ret.return_value = JobStatus.FAILED, e
        return
    for ret, summary in zip(returns, summaries, strict=True):
        ret.status = JobStatus.COMPLETED if summary["status"] == "done" else JobStatus.FAILED
        ret.return_value = (
            summary if summary["status"] == "done" else RuntimeError(summary.get("failure"))
        )


class GrokLauncher(Launcher):
    def __init__(
        self,
        pack: bool = True,
        max_members: int = 256,
        memory_gb: float | None = None,
        dry_run: bool = False,
    ):
        self.pack = pack
        self.max_members = max_members
        self.memory_gb = memory_gb
        self.dry_run = dry_run
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

        configs = preflight.compose_jobs(self, job_overrides, initial_job_idx)
        preflight.validate_jobs(self, configs, job_overrides)
        packs = preflight.plan_packs(configs, self.pack, self.max_members, self._budget(configs))
        if self.dry_run:
            preflight.print_dry_run(self.config, configs, job_overrides, packs, "local process(es)")
            return []

        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        if not self.pack:
            log.info(f"Launching {len(configs)} jobs locally, one at a time")
            return [self._run_one(cfg, o) for cfg, o in zip(configs, job_overrides, strict=True)]

        for cfg, overrides in zip(configs, job_overrides, strict=True):
            log.info(f"\t#{cfg.hydra.job.num} : {' '.join(filter_overrides(overrides))}")
        members, returns = setup_members(self.hydra_context, configs)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        log.info(
            f"Training {len(configs)} jobs in {len(packs)} pack(s) "
            f"of sizes {[len(p) for p in packs]}"
        )
        for pack in packs:
            train_members([members[i] for i in pack], [returns[i] for i in pack])
        return returns

    def _run_one(self, cfg: DictConfig, overrides: Sequence[str]) -> JobReturn:
        log.info(f"\t#{cfg.hydra.job.num} : {' '.join(filter_overrides(overrides))}")
        ret = run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=cfg,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return ret

    def _budget(self, configs: list) -> int | None:
        if self.memory_gb is not None:
            return int(self.memory_gb * 2**30)
        if configs and str(configs[0].hardware.device).startswith("cuda"):
            import torch

            if torch.cuda.is_available():
                free, _ = torch.cuda.mem_get_info()
                return int(0.8 * free)
        return None

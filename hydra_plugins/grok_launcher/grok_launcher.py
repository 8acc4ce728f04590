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
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
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
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


@dataclass
class GrokLauncherConf:
    _target_: str = "hydra_plugins.grok_launcher.grok_launcher.GrokLauncher"
    pack: bool = True  # train compatible jobs fused; false: one job at a time
    max_members: int = 256
    memory_gb: Optional[float] = None  # noqa: UP045 (see above); per-pack budget; null: 80% of free GPU memory, or no limit on CPU


ConfigStore.instance().store(
    group="hydra/launcher", name="grok", node=GrokLauncherConf, provider="grok"
)


class GrokLauncher(Launcher):
    def __init__(self, pack: bool = True, max_members: int = 256, memory_gb: float | None = None):
        self.pack = pack
        self.max_members = max_members
        self.memory_gb = memory_gb
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
        from grok.config import problems
        from grok.run import save_resolved_config
        from grok.train import Member
        from grok.train.packing import describe_packs, make_packs

        setup_globals()
        assert self.config is not None and self.hydra_context is not None and self.task_function
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

        # 1. Compose and check every job before any directory exists.
        configs = []
        for n, overrides in enumerate(job_overrides):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):
                cfg.hydra.job.id = cfg.hydra.job.num = initial_job_idx + n
            configs.append(cfg)
        bad = [
            f"job #{cfg.hydra.job.num} ({' '.join(filter_overrides(o))}):\n    "
            + "\n    ".join(errs)
            for cfg, o in zip(configs, job_overrides, strict=True)
            if (errs := problems(cfg))
        ]
        if bad:
            _remove_sweep_dir(Path(str(self.config.hydra.sweep.dir)))
            print(
                "grok: invalid sweep, nothing was launched:\n  " + "\n  ".join(bad), file=sys.stderr
            )
            sys.exit(2)

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if not self.pack:
            log.info(f"Launching {len(configs)} jobs locally, one at a time")
            return [self._run_one(cfg, o) for cfg, o in zip(configs, job_overrides, strict=True)]

        # 2. Hydra's run_job makes each job's dir, .hydra/ and log; we collect the members.
        members, returns = [], []
        for cfg, overrides in zip(configs, job_overrides, strict=True):
            log.info(f"\t#{cfg.hydra.job.num} : {' '.join(filter_overrides(overrides))}")

            def collect(task_cfg: DictConfig) -> Any:
                from hydra.core.hydra_config import HydraConfig

                run_dir = Path(HydraConfig.get().runtime.output_dir)
                save_resolved_config(task_cfg, run_dir)
                return Member(task_cfg, run_dir)

            ret = run_job(
                hydra_context=self.hydra_context,
                task_function=collect,
                config=cfg,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
            members.append(ret.return_value)
            returns.append(ret)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

        # 3. Train each pack; every member's summary becomes its job's return value.
        packs = make_packs([m.cfg for m in members], self.max_members, self._budget(members))
        log.info(f"Training {describe_packs(members, packs)}")
        for pack in packs:
            self._train_pack([members[i] for i in pack], [returns[i] for i in pack])
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

    def _budget(self, members: list[Any]) -> int | None:
        if self.memory_gb is not None:
            return int(self.memory_gb * 2**30)
        if (
            members
            and str(members[0].cfg.hardware.device).startswith("cuda")
            and torch.cuda.is_available()
        ):
            free, _ = torch.cuda.mem_get_info()
            return int(0.8 * free)
        return None

    @staticmethod
    def _train_pack(members: list[Any], returns: list[JobReturn]) -> None:
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
            ret.status = JobStatus.COMPLETED
            ret.return_value = summary["final"].get("test_acc")


def _remove_sweep_dir(sweep_dir: Path) -> None:
    """Undo the sweeper's multirun.yaml (written before the launcher runs) and the
    empty parents it created, so a rejected sweep leaves nothing behind."""
    if not sweep_dir.is_dir() or {p.name for p in sweep_dir.iterdir()} - {"multirun.yaml"}:
        return
    (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    cwd = Path.cwd().resolve()
    for d in [sweep_dir.resolve(), *sweep_dir.resolve().parents]:
        if d == cwd or cwd not in d.parents or any(d.iterdir()):
            break
        d.rmdir()

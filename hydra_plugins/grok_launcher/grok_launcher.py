"""Hydra launcher ``hydra/launcher=grok``: validate every job, then train compatible jobs fused.

Hydra's launchers run one configuration per job; upstream declined packing
(hydra issues #2632, #2786). This launcher receives a multirun's jobs, checks
all of them before anything is written, lets Hydra's own ``run_job`` create each
job's dir and ``.hydra/`` files, then trains compatible jobs as packs in this
process. Each member still ends with its own run dir, metrics and summary. ``pack=false``
trains one job at a time through the same checks. A sweep with failed runs finishes the
healthy ones, then exits 1 naming each failure.
"""
# No `from __future__ import annotations`: Hydra's plugin scanner executes this module
# before registering it in sys.modules, and dataclasses then cannot resolve string types.

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
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
    pack: bool = True  # train compatible jobs fused; false: one job per pack
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
    """run_job for every config (dirs, .hydra/, logs, callbacks) -> (members, JobReturns).
    Each member's run dir is claimed (lock, resume contract) inside; a refusal raises."""
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
            from grok.errors import ConfigError
            from grok.run import release_members

            release_members(members)
            error = ret._return_value
            if isinstance(error, ConfigError):  # a refusal (busy, resume contract): one line
                print(f"grok: {error}", file=sys.stderr)
                sys.exit(2)
            raise error
        members.append(ret.return_value)
        returns.append(ret)
    return members, returns


def train_members(members: list, returns: list) -> None:
    """Train one pack; each member's summary becomes its job's return value (a failure
    becomes a RuntimeError naming the run dir and the reason)."""
    from grok.run import train_claimed

    progress = bool(members[0].cfg.train.progress)
    try:
        summaries = train_claimed(members, progress=progress)
    except Exception as e:  # the whole pack failed (its summaries say why)
        from grok.errors import ConfigError

        log.error(f"pack of {len(members)} failed: {e!r}")
        for member, ret in zip(members, returns, strict=True):
            ret.status = JobStatus.FAILED
            refused = isinstance(e, ConfigError)  # e.g. no readable checkpoint: exit 2
            ret.return_value = e if refused else RuntimeError(f"{member.run_dir}: {e!r}")
        return
    for member, ret, summary in zip(members, returns, summaries, strict=True):
        ok = summary["status"] == "done"
        ret.status = JobStatus.COMPLETED if ok else JobStatus.FAILED
        reason = summary.get("failure") or summary["status"]
        ret.return_value = summary if ok else RuntimeError(f"{member.run_dir}: {reason}")


def print_closing(launcher: Any, jobs: list, failed: bool) -> None:
    """The sweep's closing block (grok/closing.py); on stderr when something needs doing."""
    from grok.closing import sweep_block

    dirs = [preflight.job_dir(launcher, job) for job in jobs]
    block = sweep_block(Path(str(launcher.config.hydra.sweep.dir)), dirs)
    print(block, file=sys.stderr if failed else sys.stdout)


def any_failed(returns: list) -> bool:
    return any(r is not None and r.status == JobStatus.FAILED for r in returns)


def finish(launcher: Any, jobs: list, returns: list) -> None:
    """A launch that is the whole sweep ends it: the closing block, then exit 1 (or 2) if a
    run failed. A sweeper that launches batches of its own (``grok_optuna``) sets
    ``ends_sweep = False`` and reads the failures from the returns instead."""
    if launcher.ends_sweep:
        print_closing(launcher, jobs, failed=any_failed(returns))
        exit_if_failed(returns)


def exit_if_failed(returns: list) -> None:
    """After every pack has run: one message naming each failed run, and exit 1 (exit 2
    when some were refused rather than failed)."""
    from grok.errors import ConfigError

    failed = [r for r in returns if r is not None and r.status == JobStatus.FAILED]
    if failed:
        lines = [f"  {r._return_value}" for r in failed]
        print(
            f"grok: {len(failed)} of {len(returns)} runs failed (the others finished):\n"
            + "\n".join(lines),
            file=sys.stderr,
        )
        sys.exit(2 if any(isinstance(r._return_value, ConfigError) for r in failed) else 1)


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
        self.ends_sweep = True  # see finish()
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

        jobs = preflight.compose_jobs(self, job_overrides, initial_job_idx)
        budget, why = self._budget(jobs)
        preflight.validate_jobs(self, jobs, budget=budget, budget_what=why)
        plans = preflight.plan_runs(self, jobs, dry_run=self.dry_run)
        packs = preflight.plan_packs(jobs, plans, self.pack, self.max_members, budget)
        if self.dry_run:
            preflight.print_dry_run(self.config, jobs, packs, "local process(es)")
            return []

        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        preflight.record_sweep(self.config, jobs)
        configs = [self.composer.config(job) for job in jobs]
        for job in jobs:
            log.info(f"\t#{job.num} : {job.label}")
        log.info(
            f"Training {len(jobs)} jobs in {len(packs)} pack(s) of sizes {[len(p) for p in packs]}"
        )
        returns: list = [None] * len(jobs)
        try:
            for pack in packs:
                members, rets = setup_members(self.hydra_context, [configs[i] for i in pack])
                configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
                train_members(members, rets)
                for i, ret in zip(pack, rets, strict=True):
                    returns[i] = ret
        except SystemExit:  # Ctrl-C: each member checkpointed; say how to resume the sweep
            if self.ends_sweep:
                print_closing(self, jobs, failed=True)
            raise
        finish(self, jobs, returns)
        return returns

    def _budget(self, jobs: list) -> tuple[int | None, str]:
        """Bytes one pack may use: ``memory_gb``, else most of the device's free memory."""
        from grok.packing import memory_budget

        if self.memory_gb is not None:
            return int(self.memory_gb * 2**30), f"hydra.launcher.memory_gb={self.memory_gb}"
        if not jobs:
            return None, ""
        return memory_budget(str(jobs[0].flat["hardware.device"]))

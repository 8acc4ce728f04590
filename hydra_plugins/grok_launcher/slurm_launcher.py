"""Hydra launcher ``hydra/launcher=grok_slurm``: submitit's SLURM launcher, checked and packed.

A subclass of hydra-submitit-launcher's ``submitit_slurm`` (every field of it works:
partition, timeout_min, cpus_per_task, mem_gb, account, qos, constraint, setup,
additional_parameters, array_parallelism, max_num_timeout, signal_delay_s) that

- composes and validates every job, including the resources against the cluster's
  partitions (``hardware.partitions``), before anything is submitted;
- with ``pack: true`` (default) submits one array task per pack of compatible
  configurations, each trained fused on one GPU: Yale's clusters cancel jobs that
  use < 10% of their GPU and accept 200 submissions an hour per user;
- resumes: on USR2 (time limit, preemption) the trainer checkpoints every member
  and submitit requeues the same call, which resumes each member from its run
  dir; after ``scontrol requeue`` or a node failure, the rerun does the same.
  Members already done are not trained again.
- ``dry_run: true`` prints the packs, their memory and GPU-hours, the sbatch script submitit
  would submit and where each array task's logs and run dirs go, and submits nothing.
"""
# No `from __future__ import annotations` (see grok_launcher.py).

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, setup_globals
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.grok_launcher import preflight, sbatch
from hydra_plugins.grok_launcher.grok_launcher import finish, setup_members, train_members

log = logging.getLogger(__name__)

OWN_KEYS = ("pack", "max_members", "memory_gb", "dry_run", "gpu_hours_per_member_epoch_ms")


@dataclass
class GrokSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.grok_launcher.slurm_launcher.GrokSlurmLauncher"
    pack: bool = True  # one array task per pack of compatible jobs; false: one per job
    max_members: int = 256
    memory_gb: Optional[float] = None  # GPU memory a pack may use (sizes packs)
    dry_run: bool = False  # print packs, memory and GPU-hours; submit nothing
    # Planning estimate of GPU time per member-epoch (ms) at Nanda size on one GPU; the
    # dry run scales it by model and data size. See benchmarks/bench_train.py.
    gpu_hours_per_member_epoch_ms: float = 0.5


ConfigStore.instance().store(
    group="hydra/launcher", name="grok_slurm", node=GrokSlurmConf, provider="grok"
)


def _gpu_request(cfg: DictConfig) -> tuple[str | None, int]:
    gpus = (cfg.hydra.launcher.get("additional_parameters") or {}).get("gpus")
    if not gpus:
        return None, int(cfg.hydra.launcher.get("gpus_per_node") or 0)
    kind, _, count = str(gpus).rpartition(":")
    return (kind or None), int(count)


def resource_problems(cfg: DictConfig) -> list:
    """Resources the chosen partition cannot give (limits from the cluster's public docs,
    kept in conf/hardware/<cluster>.yaml). ``cfg``: the sweep's config (hydra node included)."""
    hw, launcher = cfg.hardware, cfg.hydra.launcher
    partitions = hw.get("partitions") or {}
    part = launcher.get("partition")
    if part not in partitions:
        return [f"hydra.launcher.partition={part!r}: {hw.name} partitions are {sorted(partitions)}"]
    spec = partitions[part]
    errors = []
    max_min = int(spec.max_hours * 60)
    if int(launcher.timeout_min) > max_min:
        errors.append(
            f"hydra.launcher.timeout_min={launcher.timeout_min}: partition {part} allows at most "
            f"{max_min} minutes ({spec.max_hours} h)"
        )
    kind, count = _gpu_request(cfg)
    offered = list(spec.get("gpus") or [])
    if count and not offered:
        errors.append(f"GPU request {count}x{kind or 'gpu'}: partition {part} has no GPUs")
    elif kind and kind not in offered:
        errors.append(f"GPU type {kind!r}: partition {part} offers {offered}")
    if count > int(spec.get("max_gpus", count)):
        errors.append(f"{count} GPUs per job: partition {part} allows {spec.max_gpus}")
    if offered and not count:
        errors.append(
            f"partition {part} is a GPU partition: request a GPU (jobs without one may be killed)"
        )
    mem = launcher.get("mem_gb")
    if mem is not None and spec.get("max_mem_gb") is not None and mem > spec.max_mem_gb:
        errors.append(
            f"hydra.launcher.mem_gb={mem}: partition {part} nodes have {spec.max_mem_gb} GB"
        )
    return errors


def _cached_resources(config: DictConfig) -> Any:
    """``resource_problems`` per distinct hardware section (the launcher node is the sweep's)."""
    cache: dict = {}

    def check(flat: dict) -> list:
        items = tuple(sorted((k, repr(v)) for k, v in flat.items() if k.startswith("hardware.")))
        if items not in cache:
            from grok.keys import thaw

            hardware = thaw(tuple((k, v) for k, v in flat.items() if k.startswith("hardware.")))
            node = OmegaConf.create({**hardware, "hydra": {"launcher": config.hydra.launcher}})
            cache[items] = resource_problems(node)
        return cache[items]

    return check


class PackJob:
    """The callable each array task runs: set up the members' run dirs and train them fused.

    ``checkpoint`` makes submitit resubmit this same call on preemption or time-out;
    the rerun resumes every member from its own run dir (finished members are left as
    they are: ``train_pack`` returns their stored summaries).
    """

    def __init__(self, hydra_context: Any, config: DictConfig):
        self.hydra_context = hydra_context
        self.config = config

    def __call__(self, overrides: list, job_nums: list, singleton_state: dict) -> list:
        import submitit

        Singleton.set_state(singleton_state)
        setup_globals()
        configs = []
        for o, num in zip(overrides, job_nums, strict=True):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(o))
            with open_dict(cfg.hydra.job):
                cfg.hydra.job.id = submitit.JobEnvironment().job_id
                cfg.hydra.job.num = num
            configs.append(cfg)
        members, returns = setup_members(self.hydra_context, configs)
        train_members(members, returns)
        return returns

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


class GrokSlurmLauncher(SlurmLauncher):
    def __init__(self, **params: Any) -> None:
        own = {k: params.pop(k) for k in OWN_KEYS if k in params}
        super().__init__(**params)
        self.pack = bool(own.get("pack", True))
        self.max_members = int(own.get("max_members", 256))
        self.memory_gb = own.get("memory_gb")
        self.dry_run = bool(own.get("dry_run", False))
        self.ms_per_member_epoch = float(own.get("gpu_hours_per_member_epoch_ms", 0.5))
        self.ends_sweep = True  # grok_launcher.finish

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        setup_globals()
        jobs = preflight.compose_jobs(self, job_overrides, initial_job_idx)
        budget = int(self.memory_gb * 0.8 * 2**30) if self.memory_gb else None
        where = f"80% of hydra.launcher.memory_gb={self.memory_gb}" if budget else ""
        resources = _cached_resources(self.config)
        preflight.validate_jobs(
            self, jobs, extra=lambda flat: resources(flat), budget=budget, budget_what=where
        )
        plans = preflight.plan_runs(self, jobs, dry_run=self.dry_run)
        packs = preflight.plan_packs(jobs, plans, self.pack, self.max_members, budget)
        if self.dry_run:
            preflight.print_dry_run(self.config, jobs, packs, "SLURM array task(s)")
            print(self._gpu_hours(jobs, packs))
            folder = str(self.params["submitit_folder"])
            dirs = lambda i: preflight.job_dir(self, jobs[i]).absolute()  # noqa: E731
            print(sbatch.describe(self._executor, folder, packs, dirs))
            return []
        returns = self._launch_packs(jobs, job_overrides, packs)
        finish(self, jobs, returns)
        return returns

    def _executor(self) -> Any:
        """The executor exactly as submitit_slurm builds it."""
        import submitit

        params = dict(self.params)
        executor = submitit.AutoExecutor(
            cluster="slurm",
            folder=params.pop("submitit_folder"),
            slurm_max_num_timeout=params.pop("max_num_timeout"),
        )
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"slurm_{k}": v for k, v in params.items()}
        )
        return executor

    def _launch_packs(
        self, jobs: list, job_overrides: Sequence[Sequence[str]], packs: list
    ) -> list:
        """One array task per pack (``pack: false`` gives packs of one)."""
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        preflight.record_sweep(self.config, jobs)
        log.info(
            f"Submitting {len(jobs)} jobs as {len(packs)} SLURM array task(s) "
            f"of sizes {[len(p) for p in packs]}"
        )
        for job in jobs:
            log.info(f"\t#{job.num} : {job.label}")
        job = PackJob(self.hydra_context, self.config)
        args = [
            (
                [list(job_overrides[i]) for i in p],
                [int(jobs[i].num) for i in p],
                Singleton.get_state(),
            )
            for p in packs
        ]
        submitted_jobs = self._executor().map_array(job, *zip(*args, strict=True))
        returns: list = [None] * len(jobs)
        for pack, submitted in zip(packs, submitted_jobs, strict=True):
            for i, ret in zip(pack, submitted.results()[0], strict=True):
                returns[i] = ret
        return returns

    def _gpu_hours(self, jobs: list, packs: list) -> str:
        """A planning estimate: member-epochs x ms per member-epoch, scaled by the model's
        parameter count and examples relative to the Nanda config (p=113, 30% train)."""
        from grok.packing import task_of

        nanda_work = 227_000 * 3830
        total_ms = 0.0
        for job in jobs:
            flat = job.flat
            task = task_of(flat)
            layers, heads, d_head, d, mlp = (
                int(flat[f"model.{k}"])
                for k in ("n_layers", "n_heads", "d_head", "d_model", "d_mlp")
            )
            params = layers * (4 * heads * d_head * d + 2 * d * mlp)
            params += (task.d_vocab + task.d_vocab_out + task.n_ctx) * d
            scale = max(params * task.n_train / nanda_work, 0.05)
            total_ms += int(flat["train.epochs"]) * self.ms_per_member_epoch * scale
        hours = total_ms / 3.6e6
        per_pack = hours / max(len(packs), 1)
        timeout_h = int(self.params.get("timeout_min", 60)) / 60
        note = (
            ""
            if per_pack <= timeout_h
            else f"; exceeds timeout_min, so ~{math.ceil(per_pack / timeout_h)} requeues per pack"
        )
        if any(job.flat.get("train.stop_after_grok") is not None for job in jobs):
            note += (
                "; an upper bound: runs with train.stop_after_grok stop (and leave their pack)"
                " N epochs after they grok, so a sweep that groks costs less"
            )
        return f"estimated GPU time: {hours:.2f} GPU-hours in all, ~{per_pack:.2f} h per pack{note}"

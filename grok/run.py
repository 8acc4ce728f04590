"""Start runs: the one place a run is validated, claimed, planned, trained and released.

``prepare_member`` claims a run dir: validate the config, take the run dir's lock, and
check the resume contract (``grok.train.contract.plan_run``) before anything is written;
only then is config.yaml written and the W&B sink built. Single runs, local sweeps, SLURM
array tasks, tests and benchmarks all build their members through it, and ``train_claimed``
trains them and releases their locks. For a single run, Hydra's ``ValidateConfig`` callback
makes the same claim before Hydra creates the run dir; ``prepare_member`` takes that claim
over instead of checking twice.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from grok import keys
from grok.config import exit_on_error, print_notices, refuse, validate
from grok.logger import build_sinks
from grok.packing import memory_problems
from grok.store import DamagedFile, read_json
from grok.store.files import write_json
from grok.store.lock import LOCK, claim, release
from grok.store.rundir import RunStore
from grok.train import Member, train_pack
from grok.train.contract import RunPlan, plan_run
from grok.train.init_from import RECORD as INIT_RECORD

SWEEP_RECORD = "sweep.json"


def write_sweep_record(sweep_dir: Path, label: str, job_overrides: list[list[str]]) -> dict:
    """``<sweep dir>/sweep.json``: the sweep's W&B group and the keys it sweeps, written by the
    launcher before any job starts (SLURM jobs read it too). Swept keys are the overridden
    keys whose values differ between the jobs and that name runs (grok/keys.py)."""
    values: dict[str, set[str]] = {}
    order: list[str] = []
    for overrides in job_overrides:
        for item in overrides:
            key, _, value = str(item).partition("=")
            key = key.lstrip("+~")
            if key not in values:
                values[key], _ = set(), order.append(key)
            values[key].add(value)
    swept = [k for k in order if len(values[k]) > 1 and not keys.naming_excluded(k)]
    parts = Path(sweep_dir).resolve().parts
    record = {
        "group": "-".join([label, *parts[-2:]]),  # e.g. wd-2026-11-23-10-00-00
        "swept": swept,
        "jobs": len(job_overrides),
    }
    write_json(Path(sweep_dir) / SWEEP_RECORD, record)
    return record


def read_sweep_record(run_dir: Path) -> dict | None:
    path = Path(run_dir).parent / SWEEP_RECORD
    try:
        return read_json(path) if path.exists() else None
    except DamagedFile:
        return None


def run_info(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """How the run is named and grouped in W&B. In a sweep: group = the sweep invocation
    (its ``sweep.json``: label and dir time, so two sweeps never mix), name = the job's swept
    values only, ``swept`` = those values (into the W&B config). A single run: group = the
    experiment preset, else the task; name = its dir. ``logger.group`` overrides the group."""
    task = str(cfg.task.name)
    info: dict[str, Any] = {"job_type": task, "group": task, "name": run_dir.name, "tags": [task]}
    try:
        hc = HydraConfig.get()
    except ValueError:  # not inside a Hydra job (tests, notebooks)
        return info
    choices = hc.runtime.choices
    for group in ("experiment", "sweep"):  # the later one wins
        if choices.get(group):
            info["group"] = str(choices[group])
            info["tags"].append(f"{group}={choices[group]}")
    record = read_sweep_record(run_dir)
    if record is not None:
        own = {}
        for item in hc.overrides.task:
            key, _, value = str(item).partition("=")
            own[key.lstrip("+~")] = value
        info["group"] = record["group"]
        info["swept"] = {k: own[k] for k in record["swept"] if k in own}
        info["name"] = ",".join(f"{k}={v}" for k, v in info["swept"].items()) or run_dir.name
    return info


def claim_run_dir(cfg: DictConfig, run_dir: str | os.PathLike) -> RunPlan:
    """Lock ``run_dir`` and decide what starting ``cfg`` there does; on refusal release the
    lock and remove the dir (and the parents) this call created, so nothing is left behind."""
    run_dir = Path(run_dir)
    new = [d for d in [run_dir, *run_dir.parents] if not d.exists()]
    created = new[-1] if new else None  # the topmost folder this claim creates
    new_lock = not (run_dir / LOCK).exists()
    claim(run_dir)
    try:
        plan = plan_run(cfg, run_dir)
    except BaseException:
        if new_lock:  # a refused dir is left as it was found: no lock file either
            (run_dir / LOCK).unlink(missing_ok=True)
        release(run_dir)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    RunStore(run_dir).remove_stale_temps()  # ours to remove: we hold the lock
    return plan


def config_text(cfg: DictConfig, plan: RunPlan) -> str:
    """config.yaml: the resolved config, and the checked ``train.init_from`` source."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    if plan.init is None:
        return text
    return text + OmegaConf.to_yaml({INIT_RECORD: plan.init})


# A single run's claim by ValidateConfig (before Hydra made the dir), for prepare_member.
_claimed: dict[Path, RunPlan] = {}


def prepare_member(cfg: DictConfig, run_dir: str | os.PathLike, info: dict | None = None) -> Member:
    """Checks first (config, lock, resume contract), then config.yaml and the sinks."""
    run_dir = Path(run_dir)
    plan = _claimed.pop(run_dir.resolve(), None)
    if plan is None:
        validate(cfg)
        plan = claim_run_dir(cfg, run_dir)
    info = info if info is not None else run_info(cfg, run_dir)
    if plan.kind != "finished":  # a finished run's dir is left exactly as it is
        RunStore(run_dir).write_config(config_text(cfg, plan))
    return Member(cfg, run_dir, plan, info=info, sinks=build_sinks(cfg, run_dir, info))


def member_for_current_job(cfg: DictConfig) -> Member:
    """The member for the Hydra job being set up (its output dir is the run dir)."""
    return prepare_member(cfg, HydraConfig.get().runtime.output_dir)


def release_members(members: list[Member]) -> None:
    for m in members:
        release(m.run_dir)


def train_claimed(members: list[Member], progress: bool = True) -> list[dict[str, Any]]:
    """Train members from ``prepare_member`` as one pack, then release their run dirs."""
    try:
        return train_pack(members, progress=progress)
    finally:
        release_members(members)


def run_pack(
    runs: list[tuple[DictConfig, str | os.PathLike]], progress: bool = False
) -> list[dict[str, Any]]:
    """Train ``(config, run dir)`` pairs as one pack (tests, benchmarks, notebooks); a
    refused run releases the ones claimed before it."""
    members: list[Member] = []
    try:
        for cfg, run_dir in runs:
            members.append(prepare_member(cfg, run_dir))
    except BaseException:
        release_members(members)
        raise
    return train_claimed(members, progress=progress)


def run(
    cfg: DictConfig, run_dir: str | os.PathLike, progress: bool | None = None
) -> dict[str, Any]:
    """Train one run in ``run_dir``; its summary."""
    if progress is None:
        progress = bool(cfg.train.progress)
    return run_pack([(cfg, run_dir)], progress=progress)[0]


class ValidateConfig(Callback):
    """Hydra callback: a single run is checked (config, run-dir lock, resume contract, memory)
    before Hydra creates its run dir or writes its .hydra/ files there."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        task_cfg = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
        exit_on_error(lambda: validate(task_cfg))
        exit_on_error(lambda: refuse(memory_problems([task_cfg])))
        run_dir = Path(str(config.hydra.run.dir))
        _claimed[run_dir.resolve()] = exit_on_error(lambda: claim_run_dir(task_cfg, run_dir))
        print_notices([keys.flat_config(task_cfg)])

"""Start runs: the checks before a run dir is written, then training.

``prepare_member`` is the one place a run dir is claimed: validate the config, take the
run dir's lock, and check the resume contract (``grok.store.contract``) before anything
is written; only then is config.yaml written and the W&B sink built. Single runs, local
sweeps and SLURM array tasks all go through it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from grok.config import validate
from grok.store.contract import RunPlan, plan_run
from grok.store.lock import LOCK, claim, release
from grok.store.rundir import RunStore
from grok.train import Member, train_pack

SWEEP_RECORD = "sweep.json"


def write_sweep_record(sweep_dir: Path, label: str, job_overrides: list[list[str]]) -> dict:
    """``<sweep dir>/sweep.json``: the sweep's W&B group and the keys it sweeps, written by the
    launcher before any job starts (SLURM jobs read it too). Swept keys are the overridden
    keys whose values differ between the jobs and that name runs (grok/keys.py)."""
    from grok.keys import naming_excluded
    from grok.store.files import write_json

    values: dict[str, set[str]] = {}
    order: list[str] = []
    for overrides in job_overrides:
        for item in overrides:
            key, _, value = str(item).partition("=")
            key = key.lstrip("+~")
            if key not in values:
                values[key], _ = set(), order.append(key)
            values[key].add(value)
    swept = [k for k in order if len(values[k]) > 1 and not naming_excluded(k)]
    parts = Path(sweep_dir).resolve().parts
    record = {
        "group": "-".join([label, *parts[-2:]]),  # e.g. wd-2026-11-23-10-00-00
        "swept": swept,
        "jobs": len(job_overrides),
    }
    write_json(Path(sweep_dir) / SWEEP_RECORD, record)
    return record


def read_sweep_record(run_dir: Path) -> dict | None:
    from grok.store import DamagedFile, read_json

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
        from hydra.core.hydra_config import HydraConfig

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
    lock and remove the dir if this call created it, so nothing is left behind."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    new_lock = not (run_dir / LOCK).exists()
    claim(run_dir)
    try:
        plan = plan_run(cfg, run_dir)
    except BaseException:
        if new_lock:  # a refused dir is left as it was found: no lock file either
            (run_dir / LOCK).unlink(missing_ok=True)
        release(run_dir)
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    RunStore(run_dir).remove_stale_temps()  # ours to remove: we hold the lock
    return plan


def prepare_member(cfg: DictConfig, run_dir: str | os.PathLike, info: dict | None = None) -> Member:
    """Checks first (config, lock, resume contract), then config.yaml and the sinks."""
    from grok.logger import build_sinks

    validate(cfg)
    run_dir = Path(run_dir)
    plan = claim_run_dir(cfg, run_dir)
    info = info if info is not None else run_info(cfg, run_dir)
    if plan.kind != "finished":  # a finished run's dir is left exactly as it is
        RunStore(run_dir).write_config(OmegaConf.to_yaml(cfg, resolve=True))
    return Member(cfg, run_dir, info=info, sinks=build_sinks(cfg, run_dir, info), plan=plan)


def plan_members(members: list[Member]) -> list[RunPlan]:
    """Each member's plan (members built by hand, without ``prepare_member``, get one here)."""
    for m in members:
        if m.plan is None:
            m.plan = claim_run_dir(m.cfg, m.run_dir)
            if m.plan.kind != "finished":
                RunStore(m.run_dir).write_config(OmegaConf.to_yaml(m.cfg, resolve=True))
    return [m.plan for m in members]  # type: ignore[misc]


def member_for_current_job(cfg: DictConfig) -> Member:
    """The member for the Hydra job being set up (its output dir is the run dir)."""
    from hydra.core.hydra_config import HydraConfig

    return prepare_member(cfg, HydraConfig.get().runtime.output_dir)


def release_members(members: list[Member]) -> None:
    for m in members:
        release(m.run_dir)


def run(
    cfg: DictConfig, run_dir: str | os.PathLike, progress: bool | None = None
) -> dict[str, Any]:
    member = prepare_member(cfg, run_dir)
    if progress is None:
        progress = bool(cfg.train.get("progress", True))
    try:
        return train_pack([member], progress=progress)[0]
    finally:
        release_members([member])

"""Run one configuration in a run dir (what ``launch.py`` calls for each job)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from grok.config import validate
from grok.logger import build_sinks
from grok.logger.local import CONFIG, atomic_write_bytes
from grok.train import Member, train_pack


def save_resolved_config(cfg: DictConfig, run_dir: Path) -> None:
    """The resolved config (Hydra's .hydra/config.yaml keeps interpolations)."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    atomic_write_bytes(run_dir / CONFIG, text.encode())


def run_info(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """How the run is named and grouped in W&B, from Hydra's job context when there is one:
    group = the sweep (+sweep=...), else the experiment preset, else the task; name = the
    job's overrides; job_type = the task."""
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
    if hc.job.override_dirname:
        info["name"] = str(hc.job.override_dirname)
    return info


def make_member(cfg: DictConfig, run_dir: str | os.PathLike) -> Member:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_resolved_config(cfg, run_dir)
    info = run_info(cfg, run_dir)
    return Member(cfg, run_dir, info=info, sinks=build_sinks(cfg, run_dir, info))


def member_for_current_job(cfg: DictConfig) -> Member:
    """The member for the Hydra job being set up (its output dir is the run dir)."""
    from hydra.core.hydra_config import HydraConfig

    return make_member(cfg, HydraConfig.get().runtime.output_dir)


def run(
    cfg: DictConfig, run_dir: str | os.PathLike, progress: bool | None = None
) -> dict[str, Any]:
    validate(cfg)
    member = make_member(cfg, run_dir)
    if progress is None:
        progress = bool(cfg.train.get("progress", True))
    return train_pack([member], progress=progress)[0]

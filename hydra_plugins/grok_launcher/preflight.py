"""What both grok launchers do before anything runs: compose, validate, plan, dry-run.

Hydra's launchers compose each job's config only when the job starts; a typo in
the 300th configuration then surfaces after 299 jobs ran. Here every job is
composed and checked first, and nothing is created unless all of them pass.
"""
# No `from __future__ import annotations` in hydra_plugins: Hydra's plugin scanner executes
# these modules before registering them in sys.modules.

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import filter_overrides
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


def compose_jobs(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list:
    """Every job's full config (with its hydra node), numbered as Hydra numbers them."""
    configs = []
    for n, overrides in enumerate(job_overrides):
        try:
            cfg = launcher.hydra_context.config_loader.load_sweep_config(
                launcher.config, list(overrides)
            )
        except HydraException as e:
            fail(launcher.config, [f"job #{initial_job_idx + n} ({' '.join(overrides)}):\n    {e}"])
        with open_dict(cfg):
            cfg.hydra.job.id = cfg.hydra.job.num = initial_job_idx + n
        configs.append(cfg)
    return configs


def validate_jobs(
    launcher: Any,
    configs: list,
    job_overrides: Sequence[Sequence[str]],
    extra: Callable[[DictConfig], list] | None = None,
) -> None:
    """Exit 2 with every problem of every job, before anything is created."""
    from grok.config import problems

    bad = []
    for cfg, overrides in zip(configs, job_overrides, strict=True):
        errors = problems(cfg) + (extra(cfg) if extra else [])
        if errors:
            label = " ".join(filter_overrides(overrides)) or "(no overrides)"
            bad.append(f"job #{cfg.hydra.job.num} ({label}):\n    " + "\n    ".join(errors))
    if bad:
        fail(launcher.config, bad)


def fail(config: DictConfig, problems: list) -> None:
    remove_sweep_dir(Path(str(config.hydra.sweep.dir)))
    print("grok: invalid sweep, nothing was launched:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(2)


def remove_sweep_dir(sweep_dir: Path) -> None:
    """Undo the sweeper's multirun.yaml (written before the launcher runs) and the
    empty parents it created, so a rejected or dry-run sweep leaves nothing behind."""
    if not sweep_dir.is_dir() or {p.name for p in sweep_dir.iterdir()} - {"multirun.yaml"}:
        return
    (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    cwd = Path.cwd().resolve()
    for d in [sweep_dir.resolve(), *sweep_dir.resolve().parents]:
        if d == cwd or cwd not in d.parents or any(d.iterdir()):
            break
        d.rmdir()


def task_configs(configs: list) -> list:
    """The configs without their hydra node, as the task function sees them."""
    out = []
    for cfg in configs:
        task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        out.append(task_cfg)
    return out


def plan_packs(configs: list, pack: bool, max_members: int, memory_bytes: int | None) -> list:
    from grok.train.packing import make_packs

    if not pack:
        return [[i] for i in range(len(configs))]
    return make_packs(task_configs(configs), max_members, memory_bytes)


def print_dry_run(
    config: DictConfig,
    configs: list,
    job_overrides: Sequence[Sequence[str]],
    packs: list,
    where: str,
) -> None:
    """The jobs a sweep would run, grouped as they would be packed; nothing is created."""
    from grok.train.packing import member_bytes

    print(f"dry run: {len(configs)} job(s) in {len(packs)} {where}; nothing was launched")
    for p, members in enumerate(packs):
        mem = sum(member_bytes(task_configs([configs[i]])[0]) for i in members) / 2**30
        print(f"  pack {p}: {len(members)} member(s), ~{mem:.2f} GiB")
        for i in members:
            print(
                f"    #{configs[i].hydra.job.num}: {' '.join(filter_overrides(job_overrides[i]))}"
            )
    remove_sweep_dir(Path(str(config.hydra.sweep.dir)))

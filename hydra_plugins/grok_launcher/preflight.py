"""What both grok launchers do before anything runs: compose, validate, plan, dry-run.

Hydra's launchers compose each job's config only when the job starts; a typo in
the 300th configuration then surfaces after 299 jobs ran. Here every job is
composed and checked first, and nothing is created unless all of them pass.

Composing fast: Hydra composes every job from scratch (~0.1 s each: 17 minutes for a
10,000-job sweep). Jobs that choose the same config groups (``task=modadd``,
``+sweep=wd`` ...) share everything but their value overrides, so each distinct choice
of groups is composed once by Hydra, and a job's value overrides are applied to a copy
with Hydra's own override code (``ConfigLoaderImpl._apply_overrides_to_config``), which
is what Hydra itself does after composing. For planning, a job whose overridden keys no
interpolation reads is not even copied: its resolved values are the base's with the
overrides set. ``tests/test_preflight.py`` checks both against Hydra's per-job compose.
"""
# No `from __future__ import annotations` in hydra_plugins: Hydra's plugin scanner executes
# these modules before registering them in sys.modules.

import copy
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import filter_overrides
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)
_REFERENCE = re.compile(r"\$\{([^{}]*)\}")


@dataclass
class Base:
    """One composition by Hydra, shared by the jobs that choose the same groups."""

    config: DictConfig  # with its hydra node
    flat: dict  # resolved, flattened, without hydra
    read_by_interpolations: set  # key names interpolations refer to (last segment)


@dataclass
class Job:
    num: int
    overrides: list  # as the sweeper gave them
    base: Base
    values: list  # the parsed value overrides (group choices are in the base)
    flat: dict = field(default_factory=dict)  # resolved, flattened config without hydra
    _config: Optional[DictConfig] = None

    @property
    def label(self) -> str:
        return " ".join(filter_overrides(self.overrides)) or "(no overrides)"


def _interpolation_names(raw: dict) -> set:
    names = set()
    for value in raw.values():
        if isinstance(value, str) and "${" in value:
            for ref in _REFERENCE.findall(value):
                for token in re.split(r"[:,\s]", ref):
                    if token:
                        names.add(token.rsplit(".", 1)[-1])
    return names


def _flat(cfg: DictConfig, resolve: bool) -> dict:
    from grok.keys import flatten

    task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    node = OmegaConf.to_container(task_cfg, resolve=resolve)
    assert isinstance(node, dict)
    return dict(flatten(node))


class Composer:
    """Composes a sweep's jobs, each distinct choice of config groups once."""

    def __init__(self, launcher: Any):
        self.launcher = launcher
        loader = launcher.hydra_context.config_loader
        self.loader = loader
        self.parser = OverridesParser.create(config_loader=loader)
        self.bases: dict = {}

    def _is_group(self, override: Override) -> bool:
        return self.loader.repository.group_exists(override.key_or_group)

    def _base(self, groups: tuple) -> Base:
        if groups not in self.bases:
            cfg = self.loader.load_sweep_config(self.launcher.config, list(groups))
            raw = _flat(cfg, resolve=False)
            self.bases[groups] = Base(cfg, _flat(cfg, resolve=True), _interpolation_names(raw))
        return self.bases[groups]

    def job(self, num: int, overrides: Sequence[str]) -> Job:
        parsed = self.parser.parse_overrides(list(overrides))
        groups = tuple(o.input_line for o in parsed if self._is_group(o))
        values = [o for o in parsed if not self._is_group(o)]
        job = Job(num, list(overrides), self._base(groups), values)
        job.flat = self._fast_flat(job)
        if job.flat is None:  # the slow path: compose like Hydra, then read it back
            job.flat = _flat(self.config(job), resolve=True)
        return job

    def _fast_flat(self, job: Job) -> Optional[dict]:
        flat = dict(job.base.flat)
        for o in job.values:
            key, value = o.key_or_group, o.value()
            simple = not o.is_delete() and o.package is None
            simple = simple and not isinstance(value, dict) and not _has_interpolation(value)
            read = key.rsplit(".", 1)[-1] in job.base.read_by_interpolations
            subtree = any(k.startswith(key + ".") for k in flat)
            if not simple or read or subtree or (key not in flat and not o.is_add()):
                return None
            for parent in _parents(key):  # an empty mapping that now gets a key
                if flat.get(parent) == {}:
                    del flat[parent]
            flat[key] = value
        return flat

    def config(self, job: Job) -> DictConfig:
        """The job's full config, as Hydra's per-job compose (``load_sweep_config``) makes it."""
        if job._config is None:
            from hydra._internal.config_loader_impl import (
                ConfigLoaderImpl,
                get_overrides_dirname,
            )

            cfg = copy.deepcopy(job.base.config)
            ConfigLoaderImpl._apply_overrides_to_config(job.values, cfg)
            parsed = self.parser.parse_overrides(job.overrides)
            dirname = cfg.hydra.job.config.override_dirname
            with open_dict(cfg.hydra):
                cfg.hydra.overrides.task = list(job.overrides)
                cfg.hydra.job.override_dirname = get_overrides_dirname(
                    overrides=[o for o in parsed if not o.is_hydra_override()],
                    kv_sep=dirname.kv_sep,
                    item_sep=dirname.item_sep,
                    exclude_keys=dirname.exclude_keys,
                )
                cfg.hydra.job.id = cfg.hydra.job.num = job.num
            OmegaConf.copy_cache(from_config=self.launcher.config, to_config=cfg)
            job._config = cfg
        return job._config


def _parents(key: str) -> list:
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _has_interpolation(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, list):
        return any(_has_interpolation(v) for v in value)
    return False


def compose_jobs(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list:
    """Every job, numbered as Hydra numbers them (configs composed lazily, see Composer)."""
    composer = Composer(launcher)
    launcher.composer = composer
    jobs = []
    for n, overrides in enumerate(job_overrides):
        try:
            jobs.append(composer.job(initial_job_idx + n, overrides))
        except HydraException as e:
            fail(launcher.config, [f"job #{initial_job_idx + n} ({' '.join(overrides)}):\n    {e}"])
    return jobs


def validate_jobs(
    launcher: Any,
    jobs: list,
    extra: Optional[Callable[[dict], list]] = None,
    budget: Optional[int] = None,
    budget_what: str = "",
) -> None:
    """Exit 2 with every problem of every job (config, memory, resources, run dirs), before
    anything is created."""
    from grok.config import print_notices, problems_flat
    from grok.packing import memory_problems

    bad = []
    for job in jobs:
        errors = problems_flat(job.flat)
        if not errors:
            errors += memory_problems([job.flat], budget, budget_what)
            errors += extra(job.flat) if extra else []
        if errors:
            bad.append((job, "\n    ".join(errors)))
    if bad:
        fail(launcher.config, by_message(bad))
    print_notices([job.flat for job in jobs])


def by_message(entries: list) -> list:
    """``(job, message)`` -> one entry per distinct message, naming its jobs: a sweep whose
    every job has the same problem says it once."""
    groups: dict = {}
    for job, message in entries:
        groups.setdefault(message, []).append(job)
    out = []
    for message, js in groups.items():
        if len(js) == 1:
            head = f"job #{js[0].num} ({js[0].label})"
        else:
            more = f" and {len(js) - 8} more" if len(js) > 8 else ""
            head = f"{len(js)} jobs (" + ", ".join(f"#{j.num}" for j in js[:8]) + more + ")"
        out.append(f"{head}:\n    {message}")
    return out


def fail(config: DictConfig, problems: list) -> None:
    remove_sweep_dir(Path(str(config.hydra.sweep.dir)))
    print("grok: invalid sweep, nothing was launched:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(2)


# Sweep dirs this process made (sweep dir -> the topmost folder it created for it), so a
# rejected sweep removes an explicit ``hydra.sweep.dir`` outside the working dir too.
CREATED: dict = {}


def note_created(sweep_dir: Path) -> None:
    """Before the sweeper makes ``sweep_dir``: remember the topmost folder that is new."""
    sweep_dir = sweep_dir.resolve()
    top = None
    for d in [sweep_dir, *sweep_dir.parents]:
        if d.exists():
            break
        top = d
    if top is not None:
        CREATED[sweep_dir] = top


def remove_sweep_dir(sweep_dir: Path) -> None:
    """Undo the sweeper's multirun.yaml (written before the launcher runs) and the
    empty parents it created, so a rejected or dry-run sweep leaves nothing behind."""
    if not sweep_dir.is_dir() or {p.name for p in sweep_dir.iterdir()} - {"multirun.yaml"}:
        return
    (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    cwd = Path.cwd().resolve()
    top = CREATED.get(sweep_dir.resolve())
    for d in [sweep_dir.resolve(), *sweep_dir.resolve().parents]:
        ours = top is not None and (d == top or top in d.parents)
        if not ours and (d == cwd or cwd not in d.parents):
            break
        if any(d.iterdir()):
            break
        d.rmdir()
        if d == top:
            break


def job_dir(launcher: Any, job: Job) -> Path:
    cfg = launcher.composer.config(job)
    return Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)


def plan_runs(launcher: Any, jobs: list, dry_run: bool = False) -> list:
    """Each job's resume plan (read-only); exit 2 naming every run dir that refuses or that
    another grok process is training in (a second sweep on one ``hydra.sweep.dir``). A dry
    run checks only the runs that start from another run (``train.init_from``)."""
    from grok.errors import ConfigError
    from grok.store.lock import describe, holder
    from grok.train.contract import plan_run

    plans, bad = [], []
    for job in jobs:
        run_dir = job_dir(launcher, job)
        if dry_run and job.flat.get("train.init_from") is None:
            plans.append(None)
            continue
        held = holder(run_dir) if run_dir.exists() and not dry_run else None
        if held is not None:
            bad.append(
                (
                    job,
                    f"{run_dir} is in use by another grok process ({describe(held)}); wait "
                    "for it to finish, or stop it",
                )
            )
            continue
        try:
            # a new dir needs no plan, unless it starts from another run (checked here)
            needed = run_dir.exists() or job.flat.get("train.init_from") is not None
            plans.append(plan_run(job.flat, run_dir) if needed else None)
        except ConfigError as e:
            bad.append((job, str(e)))
    if bad:
        fail(launcher.config, by_message(bad))
    return plans


def plan_packs(
    jobs: list, plans: list, pack: bool, max_members: int, memory_bytes: Optional[int]
) -> list:
    """Packs of compatible jobs that also start from the same epoch."""
    from grok.packing import make_packs

    if not pack:
        return [[i] for i in range(len(jobs))]
    start = [(p.kind, p.epoch) if p is not None else ("fresh", 0) for p in plans]
    by_start: dict = {}
    for i, s in enumerate(start):
        by_start.setdefault(s, []).append(i)
    packs = []
    for indices in by_start.values():
        sub = make_packs([jobs[i].flat for i in indices], max_members, memory_bytes)
        packs += [[indices[i] for i in p] for p in sub]
    return sorted(packs, key=lambda p: p[0])


def print_dry_run(config: DictConfig, jobs: list, packs: list, where: str) -> None:
    """The jobs a sweep would run, grouped as they would be packed; nothing is created."""
    from grok.packing import pack_bytes

    lines = [f"dry run: {len(jobs)} job(s) in {len(packs)} {where}; nothing was launched"]
    for p, members in enumerate(packs):
        mem = pack_bytes([jobs[i].flat for i in members]) / 2**30
        lines.append(f"  pack {p}: {len(members)} member(s), ~{mem:.2f} GiB")
        lines += [f"    #{jobs[i].num}: {jobs[i].label}" for i in members]
    print("\n".join(lines))
    remove_sweep_dir(Path(str(config.hydra.sweep.dir)))


def record_sweep(config: DictConfig, jobs: list) -> None:
    """Write the sweep dir's ``sweep.json`` (W&B group, swept keys) before any job starts."""
    from grok.run import write_sweep_record

    choices = config.hydra.runtime.choices
    label = choices.get("sweep") or choices.get("experiment")
    label = label or (jobs[0].flat.get("task.name") if jobs else "sweep")
    write_sweep_record(Path(str(config.hydra.sweep.dir)), str(label), [j.overrides for j in jobs])

"""``hydra/sweeper=grok_optuna``: an Optuna study whose batches train as grok's fused packs.

hydra-optuna-sweeper (1.3) pins ``optuna<3`` and hands trials to the launcher one
``n_jobs`` batch at a time; this sweeper builds on Optuna directly with the same
search-space syntax (``search.py``), and each batch is ONE ``launcher.launch`` call, so grok's
launcher trains it as one fused pack (its SLURM launcher: one array task per pack).

- Trial N is Hydra job N and run dir ``<sweep dir>/N_<overrides>``; the study lives in
  ``<sweep dir>/optuna.db`` (``storage``) with each trial's overrides and run dir as user
  attributes. Rerunning the same command with the same ``hydra.sweep.dir`` continues it
  (``claim_sweep_dir`` reuses an explicit dir on purpose): trials a killed process left
  RUNNING are launched again first, with their recorded values, so their run dirs resume
  from their checkpoints (``train.resume=auto``), then new trials are asked until
  ``n_trials`` have finished. One process at a time runs a study (a lock in the sweep dir).
- A run that fails is a FAIL trial and the search goes on, as Optuna's own loop does; the
  command then exits 1, naming each failed trial (as grok's sweeps do).
- Checked before anything is created (exit 2, one message): the space, the objective, the
  settings, and grok's config checks at the space's corners (each bound and choice).
- ``hydra.launcher.dry_run=true`` prints the space and the first batch's plan; no study is
  created.
"""
# No `from __future__ import annotations` (see grok_launcher.py).

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.grok_launcher import preflight
from hydra_plugins.grok_launcher.search import (
    SearchError,
    Space,
    check_objective,
    check_settings,
    describe,
    make_sampler,
    objectives,
    parse_space,
    score,
)
from hydra_plugins.grok_launcher.sweeper import claim_sweep_dir

log = logging.getLogger(__name__)

DB = "optuna.db"  # grok report draws the trials of a sweep dir that holds one
LOCK = ".grok_optuna.lock"
SETUP = "grok.setup"  # study user attr: what the values mean; a rerun must agree with it


@dataclass
class GrokOptunaSweeperConf:
    _target_: str = "hydra_plugins.grok_launcher.optuna_sweeper.GrokOptunaSweeper"
    n_trials: int = 20  # finished trials in all (complete or failed); raise it to search on
    n_jobs: int = 4  # trials per batch: one launch, one fused pack
    direction: str = "minimize"  # or maximize
    objective: str = "grok_epoch"  # summary.json: grok_epoch, memorization_epoch, final/<metric>
    penalty: Optional[float] = None  # score of a run that misses it (null: 2 x its train.epochs)
    sampler: str = "tpe"  # tpe | random
    seed: Optional[int] = None
    study_name: Optional[str] = None  # null: the sweep dir
    storage: Optional[str] = None  # null: sqlite:///<hydra.sweep.dir>/optuna.db
    params: Optional[dict] = field(default=None)  # the search space, KEY: choice(...) etc.
    zips: dict = field(default_factory=dict)  # NAME=zip(...) is a grid (hydra/sweeper=grok)


ConfigStore.instance().store(
    group="hydra/sweeper", name="grok_optuna", node=GrokOptunaSweeperConf, provider="grok"
)


class GrokOptunaSweeper(Sweeper):
    def __init__(
        self,
        n_trials: int = 20,
        n_jobs: int = 4,
        direction: str = "minimize",
        objective: str = "grok_epoch",
        penalty: Optional[float] = None,
        sampler: str = "tpe",
        seed: Optional[int] = None,
        study_name: Optional[str] = None,
        storage: Optional[str] = None,
        params: Optional[dict] = None,
        zips: Optional[dict] = None,
    ) -> None:
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.direction, self.objective, self.penalty = direction, objective, penalty
        self.sampler, self.seed = sampler, seed
        self.study_name, self.storage = study_name, storage
        self.params, self.zips = dict(params or {}), dict(zips or {})
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.launcher: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.launcher.ends_sweep = False  # grok's launchers: failures come back as returns

    # --- the sweep ------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> Any:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the lines below say it once
        assert self.config is not None
        try:
            space = self._space(arguments)
        except ValueError as e:  # SearchError: Hydra's plugin scan may load search.py twice
            print(f"grok: {e}", file=sys.stderr)
            sys.exit(2)
        try:  # grok's config checks at the corners of the space, before the study exists
            preflight.validate_jobs(
                self.launcher, preflight.compose_jobs(self.launcher, space.corners(), 0)
            )
        except SystemExit:
            print(
                "  (the jobs above are the search space's corners: fix the space)", file=sys.stderr
            )
            raise
        claim_sweep_dir(self.config)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        if getattr(self.launcher, "dry_run", False):
            return self._dry_run(space, sweep_dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        with _lock(sweep_dir):
            study = self._study(space, self._storage(sweep_dir))
            returns = []
            try:
                while batch := self._next_batch(study, space):
                    returns.append(self._launch(study, space, batch))
            except SystemExit:  # Ctrl-C or a refusal: RUNNING trials go first next time
                print(self._closing(study, sweep_dir), file=sys.stderr)
                raise
        failed = _failed(study)
        print(self._closing(study, sweep_dir), file=sys.stderr if failed else sys.stdout)
        if failed:
            lines = [f"  trial {t.number}: {t.user_attrs.get('grok.failure', '?')}" for t in failed]
            print(f"grok: {len(failed)} trial(s) failed:\n" + "\n".join(lines), file=sys.stderr)
            sys.exit(1)
        return returns

    def _space(self, arguments: list[str]) -> Space:
        """The search space and the objective, checked (a SearchError names what is wrong)."""
        from grok.task import task_class

        assert self.config is not None and self.hydra_context is not None
        if self.zips:
            raise SearchError(
                f"{', '.join(self.zips)}=zip(...) is a grid (hydra/sweeper=grok); an Optuna "
                "search draws each key: give it a choice(...), range(...) or interval(...)"
            )
        check_settings(self.direction, self.sampler, self.n_trials, self.n_jobs)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_space(parser, self.params, arguments)
        self.objective = check_objective(self.objective, objectives(task_class(self.config.task)))
        return space

    def _storage(self, sweep_dir: Path) -> str:
        return self.storage or f"sqlite:///{(sweep_dir / DB).absolute()}"

    def _study(self, space: Space, storage: Any) -> Any:
        """The study, created or loaded; a loaded one must mean what this command means."""
        import optuna

        assert self.config is not None
        found = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage)}
        name = self.study_name or (
            next(iter(found)) if len(found) == 1 else str(self.config.hydra.sweep.dir)
        )
        # a seeded sampler restarted on a resumed study would draw its first trials again
        seed = None if self.seed is None else self.seed + found.get(name, 0)
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            sampler=make_sampler(self.sampler, seed),
            direction=self.direction,
            load_if_exists=True,
        )
        excluded = set(self.config.hydra.job.config.override_dirname.exclude_keys or [])
        setup = {
            "objective": self.objective,
            "direction": self.direction,
            "penalty": self.penalty,
            **{f"space {k}": describe(d) for k, d in space.params.items()},
            "fixed": sorted(o for o in space.fixed if _key(o) not in excluded),
        }
        stored = study.user_attrs.get(SETUP)
        if stored is None:
            study.set_user_attr(SETUP, setup)
        elif stored != setup:
            differ = [k for k in {**stored, **setup} if stored.get(k) != setup.get(k)]
            said = "; ".join(f"{k}: {stored.get(k)} there, {setup.get(k)} now" for k in differ)
            print(
                f"grok: {self.config.hydra.sweep.dir} holds Optuna study {name!r} with another "
                f"setup ({said}); rerun it as it was started, or start a new study in another "
                "hydra.sweep.dir",
                file=sys.stderr,
            )
            sys.exit(2)
        return study

    def _next_batch(self, study: Any, space: Space) -> list[tuple[Any, dict]]:
        """(trial, values) of the next launch: trials left RUNNING first (consecutive
        numbers, so they keep their job numbers and run dirs), else up to ``n_jobs`` new ones."""
        from optuna.trial import Trial, TrialState

        running = sorted(study.get_trials(states=(TrialState.RUNNING,)), key=lambda t: t.number)
        if running:
            batch = [running[0]]
            for t in running[1 : self.n_jobs]:
                if t.number != batch[-1].number + 1:
                    break
                batch.append(t)
            trials = [Trial(study, t._trial_id) for t in batch]
        else:
            finished = len(study.get_trials(states=(TrialState.COMPLETE, TrialState.FAIL)))
            trials = [study.ask() for _ in range(min(self.n_jobs, self.n_trials - finished))]
        return [(t, space.draw(t)) for t in trials]

    def _launch(self, study: Any, space: Space, batch: list[tuple[Any, dict]]) -> list:
        """One launch of the batch (one fused pack), then each trial told its value."""
        first = batch[0][0].number
        overrides = [space.overrides(values) for _, values in batch]
        jobs = preflight.compose_jobs(self.launcher, overrides, first)
        for (trial, _), job in zip(batch, jobs, strict=True):
            trial.set_user_attr("grok.overrides", job.overrides)
            trial.set_user_attr(
                "grok.run_dir", str(preflight.job_dir(self.launcher, job).absolute())
            )
        print(f"grok: optuna trials {first}-{first + len(batch) - 1} of {self.n_trials}")
        returns = self.launcher.launch(overrides, initial_job_idx=first)
        for (trial, values), ret in zip(batch, returns, strict=True):
            self._tell(study, trial, values, ret)
        return returns

    def _tell(self, study: Any, trial: Any, values: dict, ret: Any) -> None:
        from optuna.trial import TrialState

        shown = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
        )
        try:
            if ret.status != JobStatus.COMPLETED:
                raise SearchError(str(ret._return_value))
            value, penalized = score(
                ret.return_value, int(ret.cfg.train.epochs), self.objective, self.penalty
            )
        except ValueError as e:  # SearchError (see sweep)
            trial.set_user_attr("grok.failure", str(e))
            study.tell(trial, state=TrialState.FAIL)
            print(f"grok: trial {trial.number} failed: {e}  ({shown})")
            return
        trial.set_user_attr("grok.penalized", penalized)
        study.tell(trial, value)
        note = f" (penalty: no {self.objective})" if penalized else ""
        print(f"grok: trial {trial.number}: {self.objective} {value:g}{note}  ({shown})")

    def _dry_run(self, space: Space, sweep_dir: Path) -> list:
        """The space and the first batch's plan, from an in-memory copy of the study (or a
        new one); nothing is written."""
        import optuna

        storage = optuna.storages.InMemoryStorage()
        source = self._storage(sweep_dir)
        if self.storage is not None or (sweep_dir / DB).exists():
            for summary in optuna.get_all_study_summaries(source):
                optuna.copy_study(
                    from_study_name=summary.study_name, from_storage=source, to_storage=storage
                )
        study = self._study(space, storage)
        print(
            f"dry run: an Optuna study of {self.n_trials} trial(s), {self.n_jobs} per launch, "
            f"{self.direction} {self.objective}, sampler {self.sampler}; no study is created\n"
            "  search space:\n" + "\n".join(f"    {line}" for line in space.describe()) + "\n"
            f"  fixed: {' '.join(space.fixed) or '(none)'}\n"
            f"  study: {len(study.trials) or 'no'} trial(s) so far in {_shown(source)}"
        )
        batch = self._next_batch(study, space)
        if not batch:
            print("  the study has its trials: nothing to launch")
            preflight.remove_sweep_dir(sweep_dir)
            return []
        overrides = [space.overrides(values) for _, values in batch]
        self.launcher.launch(overrides, initial_job_idx=batch[0][0].number)
        return []

    def _closing(self, study: Any, sweep_dir: Path) -> str:
        """Best trial, counts, and the commands to resume, watch and report the study."""
        from optuna.trial import TrialState

        from grok.closing import rerun_command

        shown_dir = _relative(sweep_dir)
        counts: dict[str, int] = {}
        for t in study.trials:
            state = "failed" if t.state.name == "FAIL" else t.state.name.lower()
            counts[state] = counts.get(state, 0) + 1
        said = ", ".join(f"{n} {state}" for state, n in counts.items()) or "none yet"
        n = len(study.trials)
        lines = [f"grok: optuna study {study.study_name!r}, {n} trials ({said}): {shown_dir}"]
        complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
        if complete and all(t.user_attrs.get("grok.penalized") for t in complete):
            lines.append(
                f"  best: none; no trial reached {self.objective} (each scored the penalty)"
            )
        elif complete:
            best = study.best_trial
            params = " ".join(f"{k}={v}" for k, v in best.params.items())
            lines.append(f"  best: trial {best.number}, {self.objective} {best.value:g}: {params}")
            lines.append(f"        {_relative(Path(best.user_attrs.get('grok.run_dir', '?')))}")
        lines.append(f"  resume: {rerun_command('hydra.sweep.dir', shown_dir)}")
        lines.append("          (raise hydra.sweeper.n_trials to search on)")
        lines.append(f"  dashboard: optuna-dashboard {_shown(self._storage(sweep_dir))}")
        lines.append(f"  report: grok report {shown_dir}")
        return "\n".join(lines)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _failed(study: Any) -> list:
    from optuna.trial import TrialState

    return [t for t in study.trials if t.state == TrialState.FAIL]


def _relative(path: Path) -> Path:
    try:
        return Path(os.path.relpath(path)) if path.is_absolute() else path
    except ValueError:
        return path


def _shown(storage: Any) -> str:
    """A storage URL as one would type it (a sqlite file relative to the working dir)."""
    url = str(storage)
    if url.startswith("sqlite:///"):
        return f"sqlite:///{_relative(Path(url[len('sqlite:///') :]))}"
    return url


@contextmanager
def _lock(sweep_dir: Path) -> Iterator[None]:
    """One process runs a study at a time (two would launch each other's RUNNING trials)."""
    from grok.store.lock import RunDirBusy, RunLock, describe, holder

    lock = RunLock(sweep_dir, LOCK)
    try:
        lock.acquire()
    except RunDirBusy:
        who = describe(holder(sweep_dir, LOCK) or {})
        print(
            f"grok: {sweep_dir} holds an Optuna study another grok process is running ({who}); "
            "wait for it to finish, or stop it",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        yield
    finally:
        lock.release()

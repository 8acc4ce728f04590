"""``hydra/sweeper=grok``: Hydra's basic sweeper, with a sweep dir of its own per invocation.

- The default sweep dir names the second a sweep started; two sweeps started in the same
  second would share it (and every job's run dir). Each invocation claims its dir with an
  atomic ``mkdir``; a taken name gets a suffix (``..._1``). An explicit
  ``hydra.sweep.dir=X`` is reused on purpose (re-running a sweep resumes it; each run
  dir's lock keeps two processes apart); if this invocation made it and the sweep is
  refused, it is removed again.
- The basic sweeper writes ``multirun.yaml`` into a new sweep dir before it checks that
  every job composes; a sweep over a key that does not exist then leaves that dir
  behind. This one removes it again when the check fails, and leaves the check to
  grok's launchers when they run the sweep (they compose every job anyway).
- Zipped dimensions (``NAME=zip(KEY=choice(..),KEY=[..])``, ``hydra.sweeper.zips`` or a
  ``zip(...)`` value in ``hydra.sweeper.params``; ``zips.py``): each row becomes concrete
  overrides, crossed with the grid; a bad zip exits 2 before the sweep dir exists.
"""
# No `from __future__ import annotations` (see grok_launcher.py).

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from omegaconf import read_write

from hydra_plugins.grok_launcher.preflight import note_created, remove_sweep_dir
from hydra_plugins.grok_launcher.zips import Zip, check_against, parse_zip


@dataclass
class GrokSweeperConf:
    _target_: str = "hydra_plugins.grok_launcher.sweeper.GrokSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[dict] = field(default=None)
    zips: dict[str, str] = field(default_factory=dict)  # NAME -> "zip(KEY=...,KEY=...)"


ConfigStore.instance().store(
    group="hydra/sweeper", name="grok", node=GrokSweeperConf, provider="grok"
)


def claim_sweep_dir(config: Any) -> None:
    """Make this invocation's sweep dir its own (see the module docstring); ``config`` is
    the sweep's, whose ``hydra.sweep.dir`` may get a suffix."""
    explicit = any(
        str(o).lstrip("+").startswith("hydra.sweep.dir=") for o in config.hydra.overrides.hydra
    )
    if explicit:
        note_created(Path(str(config.hydra.sweep.dir)))  # removed again if refused
        return
    wanted = Path(str(config.hydra.sweep.dir))
    wanted.parent.mkdir(parents=True, exist_ok=True)
    claimed = wanted
    for n in range(1, 10_000):
        try:
            claimed.mkdir()
            break
        except FileExistsError:
            claimed = wanted.with_name(f"{wanted.name}_{n}")
    if claimed != wanted:
        with read_write(config.hydra):
            config.hydra.sweep.dir = str(claimed)
            # every job's config is recomposed from these overrides
            quoted = str(claimed).replace("\\", "\\\\").replace("'", "\\'")
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir='{quoted}'")


class GrokSweeper(BasicSweeper):
    def __init__(
        self,
        max_batch_size: Optional[int],
        params: Optional[dict] = None,
        zips: Optional[dict] = None,
    ) -> None:
        params = dict(params or {})
        self.zip_expressions = {k: str(v) for k, v in (zips or {}).items()}
        for key, value in list(params.items()):  # the design's configured form
            if str(value).strip().startswith("zip("):
                self.zip_expressions[key] = str(params.pop(key))
        super().__init__(max_batch_size, params)
        self.zips: list[Zip] = []

    def sweep(self, arguments: list) -> Any:
        try:
            self.zips = [parse_zip(k, v) for k, v in self.zip_expressions.items()]
            check_against(self.zips, [*self._parse_config(), *arguments])
        except ValueError as e:  # ZipError: Hydra's plugin scan may load zips.py twice
            print(f"grok: {e}", file=sys.stderr)
            sys.exit(2)
        claim_sweep_dir(self.config)
        return super().sweep(arguments)

    def split_arguments(self, overrides: Any, max_batch_size: Optional[int]) -> Any:
        """The grid (Hydra's product), crossed with every zip's rows (``zips.py``)."""
        (grid,) = BasicSweeper.split_arguments(overrides, None)
        rows = [list(itertools.chain(*r)) for r in itertools.product(*(z.rows for z in self.zips))]
        jobs = [row + job for row in rows for job in grid]
        if max_batch_size is None:
            return [jobs]
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size))

    def validate_batch_is_legal(self, batch: Any) -> None:
        """grok's launchers compose and check every job themselves (and clean up on failure);
        composing a second time here would double a large sweep's start-up (~0.1 s a job)."""
        from hydra_plugins.grok_launcher.grok_launcher import GrokLauncher
        from hydra_plugins.grok_launcher.slurm_launcher import GrokSlurmLauncher

        if isinstance(self.launcher, GrokLauncher | GrokSlurmLauncher):
            return
        try:
            super().validate_batch_is_legal(batch)
        except Exception:
            remove_sweep_dir(Path(str(self.config.hydra.sweep.dir)))
            raise

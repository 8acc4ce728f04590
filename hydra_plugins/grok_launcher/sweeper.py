"""``hydra/sweeper=grok``: Hydra's basic sweeper, minus the debris of a rejected sweep.

The basic sweeper writes ``multirun.yaml`` into a new sweep dir before it checks that
every job composes; a sweep over a key that does not exist then leaves that dir
behind. This one removes it again when the check fails, and leaves the check to
grok's launchers when they run the sweep (they compose every job anyway).
"""
# No `from __future__ import annotations` (see grok_launcher.py).

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore

from hydra_plugins.grok_launcher.preflight import remove_sweep_dir


@dataclass
class GrokSweeperConf:
    _target_: str = "hydra_plugins.grok_launcher.sweeper.GrokSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[dict] = field(default=None)


ConfigStore.instance().store(
    group="hydra/sweeper", name="grok", node=GrokSweeperConf, provider="grok"
)


class GrokSweeper(BasicSweeper):
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

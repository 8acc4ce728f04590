"""``hydra/sweeper=grok``: Hydra's basic sweeper, minus the debris of a rejected sweep.

The basic sweeper writes ``multirun.yaml`` into a new sweep dir before it checks that
every job composes; a sweep over a key that does not exist then leaves that dir
behind. This one removes it again when the check fails.
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
        try:
            super().validate_batch_is_legal(batch)
        except Exception:
            remove_sweep_dir(Path(str(self.config.hydra.sweep.dir)))
            raise

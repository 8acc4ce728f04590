"""Register the repository's ``sweeps/*.yaml`` as Hydra's ``sweep`` group: ``-m +sweep=wd``.

The sweeps live at the top of the repository (not in conf/) so they read as the
project's catalogue of studies; Hydra imports this plugin module before composing
any config, which is when the group has to exist. Also registers ``grok_div``,
used by the effective-weight-decay sweep (lr = eff_wd / wd).
"""

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"

if not OmegaConf.has_resolver("grok_div"):
    OmegaConf.register_new_resolver("grok_div", lambda a, b: float(a) / float(b))

if SWEEPS.is_dir():
    for path in sorted(SWEEPS.glob("*.yaml")):
        ConfigStore.instance().store(
            group="sweep",
            name=path.stem,
            node=OmegaConf.load(path),
            package="_global_",
            provider="grok",
        )

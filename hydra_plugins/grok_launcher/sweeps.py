"""Register the repository's ``sweeps/*.yaml`` as Hydra's ``sweep`` group: ``-m +sweep=wd``.

The sweeps live at the top of the repository (not in conf/) so they read as the
project's catalogue of studies; Hydra imports this plugin module before composing
any config, which is when the group has to exist. Also registers ``grok_div``,
used by the effective-weight-decay sweep (lr = eff_wd / wd), ``grok_naming_excluded``
(run-dir names leave out the keys grok/keys.py says are not part of a run's identity) and
the defaults of grok/defaults.py (``grok_grokfast_lamb``: config.yaml says the value used).
"""

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from grok.defaults import RESOLVERS
from grok.keys import naming_exclude_list

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"

if not OmegaConf.has_resolver("grok_div"):
    OmegaConf.register_new_resolver("grok_div", lambda a, b: float(a) / float(b))
if not OmegaConf.has_resolver("grok_naming_excluded"):
    # conf/config.yaml's override_dirname.exclude_keys, from the one key table
    OmegaConf.register_new_resolver("grok_naming_excluded", naming_exclude_list)
for name, resolver in RESOLVERS.items():
    if not OmegaConf.has_resolver(name):
        OmegaConf.register_new_resolver(name, resolver)

if SWEEPS.is_dir():
    for path in sorted(SWEEPS.glob("*.yaml")):
        ConfigStore.instance().store(
            group="sweep",
            name=path.stem,
            node=OmegaConf.load(path),
            package="_global_",
            provider="grok",
        )

"""Register the repository's ``sweeps/*.yaml`` as Hydra's ``sweep`` group: ``-m +sweep=wd``.

The sweeps live at the top of the repository (not in conf/) so they read as the
project's catalogue of studies; Hydra imports this plugin module before composing
any config, which is when the group has to exist. Also registers ``grok_div``,
used by the effective-weight-decay sweep (lr = eff_wd / wd), ``grok_naming_excluded``
(run-dir names leave out the keys grok/keys.py says are not part of a run's identity) and
the defaults of grok/defaults.py (``grok_grokfast_lamb``: config.yaml says the value used),
and ``grok_config_groups`` (the group list of ``launch.py --help``).
"""

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from grok.defaults import RESOLVERS
from grok.keys import naming_exclude_list

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
CONF = SWEEPS.parent / "conf"


def config_groups() -> str:
    """``launch.py --help``'s group list: each conf/ group with its options, and the named
    sweeps; the private pieces (``hardware/_yale``, ``optim/_methods``) left out."""
    lines = []
    for group in sorted(p for p in CONF.iterdir() if p.is_dir()):
        options = sorted(f.stem for f in group.glob("*.yaml") if not f.stem.startswith("_"))
        lines.append(f"  {group.name}: {', '.join(options)}")
    lines.append(f"  +sweep: {', '.join(sorted(p.stem for p in SWEEPS.glob('*.yaml')))}")
    return "\n".join(lines)


if not OmegaConf.has_resolver("grok_div"):
    OmegaConf.register_new_resolver("grok_div", lambda a, b: float(a) / float(b))
if not OmegaConf.has_resolver("grok_naming_excluded"):
    # conf/config.yaml's override_dirname.exclude_keys, from the one key table
    OmegaConf.register_new_resolver("grok_naming_excluded", naming_exclude_list)
if not OmegaConf.has_resolver("grok_config_groups"):
    OmegaConf.register_new_resolver("grok_config_groups", config_groups)
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

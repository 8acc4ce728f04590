"""A pack's members' configs, and the one way the trainer reads pack-wide values.

``Pack.shared(key)`` returns a pack-wide value (``grok.keys``: PACK or RUNTIME scope) and
refuses a per-member key, so the trainer cannot take member 0's value for something that
may differ; per-member values come from ``member.cfg``. Construction checks that every
member agrees on every pack-wide key.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from grok import keys
from grok.errors import ConfigError


def pack_wide(flat: dict[str, Any]) -> dict[str, Any]:
    """The values that must agree inside a pack."""
    out = {}
    for path, value in flat.items():
        if keys.scope(path).pack_wide:
            out[path] = value
    return out


def disagreements(flats: list[dict[str, Any]]) -> list[str]:
    """Pack-wide keys on which members differ, as 'key: v0 vs v1 ...' lines."""
    wide = [pack_wide(f) for f in flats]
    paths = sorted(set().union(*wide))
    out = []
    for path in paths:
        values = [w.get(path) for w in wide]
        if any(v != values[0] for v in values[1:]):
            shown = sorted({repr(v) for v in values})
            out.append(f"{path}: {' vs '.join(shown)}")
    return out


class Pack:
    """The members' configs, checked to agree on every pack-wide key."""

    def __init__(self, cfgs: list[DictConfig]):
        if not cfgs:
            raise ValueError("a pack needs at least one member")
        self.cfgs = cfgs
        self.flats = [keys.flat_config(c) for c in cfgs]
        unknown = sorted({k for f in self.flats for k in keys.unknown_keys(f)})
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; see grok/keys.py")
        bad = disagreements(self.flats)
        if bad:
            raise ConfigError(
                "these members cannot share a pack; they differ in pack-wide keys:\n  "
                + "\n  ".join(bad)
            )

    def __len__(self) -> int:
        return len(self.cfgs)

    def shared(self, path: str, default: Any = None) -> Any:
        """A pack-wide value (equal for every member, checked at construction)."""
        scope = keys.scope(path)
        if not scope.pack_wide:
            raise TypeError(f"{path} is per-member ({scope.value}); read it from each member")
        value = OmegaConf.select(self.cfgs[0], path, default=default)
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value

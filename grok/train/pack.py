"""A pack's members and the one way the trainer reads their configs.

``Pack.shared(key)`` returns a pack-wide value (``grok.keys``: PACK or RUNTIME scope) and
refuses a per-member key, so the trainer cannot take member 0's value for something that
may differ; per-member values come from ``member.cfg``. Construction checks that every
member agrees on every pack-wide key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from grok import keys
from grok.errors import ConfigError
from grok.store.contract import RunPlan, flat_config


@dataclass
class Member:
    """One run of a pack: its own resolved config, run dir, naming and mirrors (W&B)."""

    cfg: DictConfig
    run_dir: Path
    info: dict[str, Any] = field(default_factory=dict)
    sinks: list[Any] = field(default_factory=list)
    plan: RunPlan | None = None  # set by grok.run.prepare_member (None: decide in the trainer)


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

    def __init__(self, members: list[Member]):
        if not members:
            raise ValueError("a pack needs at least one member")
        self.members = members
        self.flats = [flat_config(m.cfg) for m in members]
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
        return len(self.members)

    def shared(self, path: str, default: Any = None) -> Any:
        """A pack-wide value (equal for every member, checked at construction)."""
        scope = keys.scope(path)
        if not scope.pack_wide:
            raise TypeError(f"{path} is per-member ({scope.value}); read it from each member")
        value = OmegaConf.select(self.members[0].cfg, path, default=default)
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def train_pack(members: list[Member], progress: bool = True) -> list[dict[str, Any]]:
    """Train ``members`` fused; a member whose run dir holds its finished run is left as it
    is (its stored summary is returned). Members built by hand get their checks (lock,
    resume contract) here, and their locks are released at the end."""
    from grok.run import plan_members, release_members
    from grok.train.trainer import PackTrainer

    claimed = [m for m in members if m.plan is None]
    try:
        plans = plan_members(members)
        todo = [i for i, p in enumerate(plans) if p.kind != "finished"]
        summaries: list[Any] = [p.summary for p in plans]
        for member, plan in zip(members, plans, strict=True):
            if plan.kind == "finished":  # a kill may have cut its W&B mirror short
                for sink in member.sinks:
                    sink.catch_up(plan.summary)
        if todo:
            trained = PackTrainer([members[i] for i in todo], progress=progress).fit()
            for i, summary in zip(todo, trained, strict=True):
                summaries[i] = summary
        return summaries
    finally:
        release_members(claimed)

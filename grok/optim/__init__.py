"""Optimizers (the ``optim`` config group) over a pack's stacked parameters, and the
grokking methods that wrap any of them (``optim.grokfast``, ``optim.orthograd``,
``optim.fixed_norm``; ``grok.optim.stage``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from grok import checks
from grok.errors import ConfigError
from grok.optim import fixed_norm, grokfast, muon, orthograd
from grok.optim.fixed_norm import FixedNorm
from grok.optim.grokfast import Grokfast
from grok.optim.muon import Muon
from grok.optim.orthograd import OrthoGrad
from grok.optim.schedule import SCHEDULE_UNITS, SCHEDULES, Schedule
from grok.optim.stacked import SGD, Adam, AdamW, StackedOptimizer
from grok.optim.stage import Stage

OPTIMIZERS: dict[str, type[StackedOptimizer]] = {
    "adamw": AdamW,
    "adam": Adam,
    "sgd": SGD,
    "muon": Muon,
}
# In the order a step applies them: gradient filters, then the projection, (update), the norm.
STAGES = (Grokfast, OrthoGrad, FixedNorm)


def problems(cfg: Any) -> list[str]:
    name = cfg.get("name")
    errors = checks.choice(
        "optim.name", name, OPTIMIZERS, text=f"allowed optimizers are {list(OPTIMIZERS)}"
    )
    errors += checks.number("optim.lr", cfg.get("lr"), gt=0)
    errors += checks.number("optim.wd", cfg.get("wd"), ge=0)
    betas = cfg.get("betas")
    if name in ("adamw", "adam", "muon") and (
        betas is None
        or len(betas) != 2
        or not all(checks.is_number(b) and 0 <= b < 1 for b in betas)
    ):
        errors.append(f"optim.betas={betas!r}: must be two numbers in [0, 1)")
    if name in ("adamw", "adam", "muon"):
        errors += checks.number("optim.eps", cfg.get("eps"), gt=0)
    if name == "sgd":
        momentum = cfg.get("momentum")
        errors += checks.number("optim.momentum", momentum, ge=0, lt=1, text="must be in [0, 1)")
    errors += checks.integer("optim.warmup_steps", cfg.get("warmup_steps"), low=0)
    errors += checks.choice("optim.schedule", cfg.get("schedule"), SCHEDULES)
    errors += checks.number("optim.min_lr_ratio", cfg.get("min_lr_ratio"), ge=0, le=1)
    errors += _schedule_shape_problems(cfg)
    errors += checks.number(
        "optim.clip_grad_norm",
        cfg.get("clip_grad_norm"),
        gt=0,
        null=True,
        text="must be null (no clipping) or > 0",
    )
    for method in (grokfast, orthograd, fixed_norm, muon):
        errors += method.problems(cfg)
    return errors


def _schedule_shape_problems(cfg: Any) -> list[str]:
    """The options that reproduce seed 004's schedule (grok/optim/schedule.py)."""
    errors = []
    offset = cfg.get("warmup_offset")
    if offset not in (0, 1) or isinstance(offset, bool):
        errors.append(
            f"optim.warmup_offset={offset!r}: allowed are 0 (first factor 0, Nanda et al.) "
            "and 1 (first factor 1/warmup_steps, seed 004)"
        )
    errors += checks.number("optim.cosine_peak", cfg.get("cosine_peak"), gt=0)
    errors += checks.choice("optim.schedule_unit", cfg.get("schedule_unit"), SCHEDULE_UNITS)
    return errors


def build_optimizer(
    params: dict[str, Tensor],
    members: Sequence[Any],
    total_steps: int | None = None,
    steps_per_epoch: int = 1,
) -> StackedOptimizer:
    """``members``: each member's ``optim`` config node; ``total_steps`` and
    ``steps_per_epoch`` for schedules."""
    name = members[0].name
    if name not in OPTIMIZERS:
        raise ConfigError(f"optim.name={name!r}: allowed optimizers are {list(OPTIMIZERS)}")
    stages: list[Stage] = [s for s in (cls.build(params, members) for cls in STAGES) if s]
    return OPTIMIZERS[name](params, members, total_steps, stages, steps_per_epoch=steps_per_epoch)


__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SCHEDULE_UNITS",
    "SGD",
    "Adam",
    "AdamW",
    "FixedNorm",
    "Grokfast",
    "Muon",
    "OrthoGrad",
    "Schedule",
    "StackedOptimizer",
    "build_optimizer",
    "problems",
]

"""Optimizers (the ``optim`` config group) over a pack's stacked parameters, and the
grokking methods that wrap any of them (``optim.grokfast``, ``optim.orthograd``,
``optim.fixed_norm``; ``grok.optim.stage``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from grok.errors import ConfigError
from grok.optim import fixed_norm, grokfast, muon, orthograd
from grok.optim.fixed_norm import FixedNorm
from grok.optim.grokfast import Grokfast
from grok.optim.muon import Muon
from grok.optim.orthograd import OrthoGrad
from grok.optim.schedule import SCHEDULE_UNITS, SCHEDULES, Schedule
from grok.optim.stacked import SGD, Adam, AdamW, StackedOptimizer
from grok.optim.stage import Stage
from grok.optim.stage import is_number as _number

OPTIMIZERS: dict[str, type[StackedOptimizer]] = {
    "adamw": AdamW,
    "adam": Adam,
    "sgd": SGD,
    "muon": Muon,
}
# In the order a step applies them: gradient filters, then the projection, (update), the norm.
STAGES = (Grokfast, OrthoGrad, FixedNorm)


def validate(cfg: Any) -> list[str]:
    errors = []
    name = cfg.get("name")
    if name not in OPTIMIZERS:
        errors.append(f"optim.name={name!r}: allowed optimizers are {list(OPTIMIZERS)}")
    lr = cfg.get("lr")
    if not _number(lr) or not lr > 0:
        errors.append(f"optim.lr={lr!r}: must be a finite number > 0")
    wd = cfg.get("wd")
    if not _number(wd) or not wd >= 0:
        errors.append(f"optim.wd={wd!r}: must be a finite number >= 0")
    betas = cfg.get("betas")
    if name in ("adamw", "adam", "muon") and (
        betas is None or len(betas) != 2 or not all(_number(b) and 0 <= b < 1 for b in betas)
    ):
        errors.append(f"optim.betas={betas!r}: must be two numbers in [0, 1)")
    eps = cfg.get("eps", 1e-8)
    if name in ("adamw", "adam", "muon") and (not _number(eps) or not eps > 0):
        errors.append(f"optim.eps={eps!r}: must be a finite number > 0")
    momentum = cfg.get("momentum", 0.0)
    if name == "sgd" and (not _number(momentum) or not 0 <= momentum < 1):
        errors.append(f"optim.momentum={momentum!r}: must be in [0, 1)")
    warmup = cfg.get("warmup_steps", 0)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        errors.append(f"optim.warmup_steps={warmup!r}: must be an integer >= 0")
    if cfg.get("schedule", "constant") not in SCHEDULES:
        errors.append(f"optim.schedule={cfg.get('schedule')!r}: allowed are {list(SCHEDULES)}")
    floor = cfg.get("min_lr_ratio", 0.0)
    if not _number(floor) or not 0 <= floor <= 1:
        errors.append(f"optim.min_lr_ratio={floor!r}: must be a number in [0, 1]")
    errors += _schedule_shape_problems(cfg)
    clip = cfg.get("clip_grad_norm")
    if clip is not None and not (_number(clip) and clip > 0):
        errors.append(f"optim.clip_grad_norm={clip!r}: must be null (no clipping) or > 0")
    for method in (grokfast, orthograd, fixed_norm, muon):
        errors += method.validate(cfg)
    return errors


def _schedule_shape_problems(cfg: Any) -> list[str]:
    """The options that reproduce seed 004's schedule (grok/optim/schedule.py)."""
    errors = []
    offset = cfg.get("warmup_offset", 0)
    if offset not in (0, 1) or isinstance(offset, bool):
        errors.append(
            f"optim.warmup_offset={offset!r}: allowed are 0 (first factor 0, Nanda et al.) "
            "and 1 (first factor 1/warmup_steps, seed 004)"
        )
    peak = cfg.get("cosine_peak", 1.0)
    if not _number(peak) or not peak > 0:
        errors.append(f"optim.cosine_peak={peak!r}: must be a finite number > 0")
    unit = cfg.get("schedule_unit", "step")
    if unit not in SCHEDULE_UNITS:
        errors.append(f"optim.schedule_unit={unit!r}: allowed are {list(SCHEDULE_UNITS)}")
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
    "validate",
]

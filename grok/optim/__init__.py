"""Optimizers (the ``optim`` config group) over a pack's stacked parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from grok.errors import ConfigError
from grok.optim.schedule import SCHEDULE_UNITS, SCHEDULES, Schedule
from grok.optim.stacked import SGD, Adam, AdamW, StackedOptimizer

OPTIMIZERS: dict[str, type[StackedOptimizer]] = {"adamw": AdamW, "adam": Adam, "sgd": SGD}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
    if name in ("adamw", "adam") and (
        betas is None or len(betas) != 2 or not all(_number(b) and 0 <= b < 1 for b in betas)
    ):
        errors.append(f"optim.betas={betas!r}: must be two numbers in [0, 1)")
    eps = cfg.get("eps", 1e-8)
    if name in ("adamw", "adam") and (not _number(eps) or not eps > 0):
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
    return OPTIMIZERS[name](params, members, total_steps, steps_per_epoch=steps_per_epoch)


__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SCHEDULE_UNITS",
    "SGD",
    "Adam",
    "AdamW",
    "Schedule",
    "StackedOptimizer",
    "build_optimizer",
    "validate",
]

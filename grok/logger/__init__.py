"""Sinks for metrics and summaries: the local run dir (always), W&B (the ``logger`` group)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grok.logger.wandb import WandbSink
from grok.logger.wandb import validate as validate_wandb

LOGGERS = ("wandb", "none")


def validate(cfg: Any) -> list[str]:
    if cfg.get("name") not in LOGGERS:
        return [f"logger.name={cfg.get('name')!r}: allowed are {list(LOGGERS)}"]
    return validate_wandb(cfg)


def build_sinks(cfg: Any, run_dir: Path, info: dict[str, Any]) -> list[Any]:
    """Mirrors of the local store for one run (``logger=none``: just the local store)."""
    logger = cfg.get("logger")
    if logger is None or logger.get("name") == "none":
        return []
    return [WandbSink(cfg, run_dir, info)]


__all__ = ["LOGGERS", "WandbSink", "build_sinks", "validate"]

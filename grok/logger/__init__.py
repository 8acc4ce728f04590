"""Sinks for metrics and summaries: the local run dir (always), W&B (the ``logger`` group)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grok import checks
from grok.logger.wandb import WandbSink
from grok.logger.wandb import problems as wandb_problems

LOGGERS = ("wandb", "none")


def problems(cfg: Any) -> list[str]:
    return checks.choice("logger.name", cfg.get("name"), LOGGERS) or wandb_problems(cfg)


def build_sinks(cfg: Any, run_dir: Path, info: dict[str, Any]) -> list[Any]:
    """Mirrors of the local store for one run (``logger=none``: just the local store)."""
    logger = cfg.get("logger")
    if logger is None or logger.get("name") == "none":
        return []
    return [WandbSink(cfg, run_dir, info)]


__all__ = ["LOGGERS", "WandbSink", "build_sinks", "problems"]

"""Run one configuration in a run dir (what ``launch.py`` calls for each job)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from grok.config import validate
from grok.logger.local import CONFIG, atomic_write_bytes
from grok.train import Member, train_pack


def save_resolved_config(cfg: DictConfig, run_dir: Path) -> None:
    """The resolved config (Hydra's .hydra/config.yaml keeps interpolations)."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    atomic_write_bytes(run_dir / CONFIG, text.encode())


def run(
    cfg: DictConfig, run_dir: str | os.PathLike, progress: bool | None = None
) -> dict[str, Any]:
    validate(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_resolved_config(cfg, run_dir)
    if progress is None:
        progress = bool(cfg.train.get("progress", True))
    return train_pack([Member(cfg, run_dir)], progress=progress)[0]

"""Validate a composed config before anything is trained or written."""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from grok import hardware, logger, measures, model, optim, train
from grok.errors import ConfigError
from grok.task import task_class

GROUPS = ("task", "model", "optim", "train", "hardware", "logger")


def problems(cfg: DictConfig) -> list[str]:
    missing = [g for g in GROUPS if g not in cfg]
    if missing:
        return [f"config has no {', '.join(missing)} section(s); conf/config.yaml composes them"]
    errors: list[str] = []
    try:
        errors += task_class(cfg.task).validate(cfg.task)
    except ConfigError as e:
        errors.append(str(e))
    errors += model.validate(cfg.model)
    errors += optim.validate(cfg.optim)
    errors += train.validate(cfg.train)
    errors += hardware.validate(cfg.hardware)
    errors += logger.validate(cfg.logger)
    errors += measures.validate(cfg.get("measures"))
    return errors


def validate(cfg: DictConfig) -> None:
    """Raise one ConfigError listing every bad value and what is allowed."""
    errors = problems(cfg)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


class ValidateConfig(Callback):
    """Hydra callback: a single run is checked before Hydra creates its run dir."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        exit_on_error(config)


def exit_on_error(cfg: DictConfig) -> None:
    """Print the problems and exit 2, instead of a traceback, for bad user input."""
    try:
        validate(cfg)
    except ConfigError as e:
        print(f"grok: {e}", file=sys.stderr)
        sys.exit(2)

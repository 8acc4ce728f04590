"""Hydra entry point: ``python launch.py [group=option ...] [key=value ...]``, ``-m`` for sweeps."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from grok.run import run

    return run(cfg, HydraConfig.get().runtime.output_dir)  # the run's summary


if __name__ == "__main__":
    main()

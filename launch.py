"""Hydra entry point: ``python launch.py [group=option ...] [key=value ...]``, ``-m`` for sweeps."""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from grok.run import run

    run_dir = HydraConfig.get().runtime.output_dir
    summary = run(cfg, run_dir)
    if summary["status"] != "done":  # a failed run exits non-zero, saying why
        print(
            f"grok: run {summary['status']}: {summary.get('failure', '')} ({run_dir})",
            file=sys.stderr,
        )
        sys.exit(1)
    return summary


if __name__ == "__main__":
    main()

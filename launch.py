"""Hydra entry point: ``python launch.py [group=option ...] [key=value ...]``, ``-m`` for sweeps."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from grok.closing import run_block
    from grok.run import run

    run_dir = HydraConfig.get().runtime.output_dir
    try:
        summary = run(cfg, run_dir)
    except SystemExit:  # Ctrl-C / SIGTERM after the checkpoint: say where, and how to resume
        if (Path(run_dir) / "summary.json").exists():
            print(run_block(run_dir), file=sys.stderr)
        raise
    if summary["status"] != "done":  # a failed run exits non-zero, saying why
        print(run_block(run_dir), file=sys.stderr)
        sys.exit(1)
    print(run_block(run_dir))
    return summary


if __name__ == "__main__":
    main()

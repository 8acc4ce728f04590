"""Hydra entry point: ``python launch.py [group=option ...] [key=value ...]``, ``-m`` for sweeps."""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from grok.config import exit_on_error
    from grok.run import run

    run_dir = HydraConfig.get().runtime.output_dir
    summary = exit_on_error(lambda: run(cfg, run_dir))  # a refusal: one line, exit 2
    if summary["status"] != "done":  # a failed run exits non-zero, saying why
        print(
            f"grok: run {summary['status']}: {summary.get('failure', '')} ({run_dir})",
            file=sys.stderr,
        )
        sys.exit(1)
    return summary


if __name__ == "__main__":
    from grok.overrides import exit_on_bad_command_line

    exit_on_bad_command_line(sys.argv[1:])  # a missing option or key: one line, exit 2
    main()

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
    from grok.config import exit_on_error
    from grok.run import run

    run_dir = HydraConfig.get().runtime.output_dir
    try:
        summary = exit_on_error(lambda: run(cfg, run_dir))  # a refusal: one line, exit 2
    except SystemExit as stop:  # Ctrl-C / SIGTERM after the checkpoint: where, how to resume
        if stop.code != 2 and (Path(run_dir) / "summary.json").exists():
            print(run_block(run_dir), file=sys.stderr)
        raise
    if summary["status"] != "done":  # a failed run exits non-zero, saying why
        print(run_block(run_dir), file=sys.stderr)
        sys.exit(1)
    print(run_block(run_dir))
    return summary


if __name__ == "__main__":
    from grok.overrides import exit_on_bad_command_line
    from hydra_plugins.grok_launcher.zips import ZipError, lower_command_line, member_overrides

    try:  # NAME=zip(KEY=choice(..),KEY=[..]): one sweep dimension (hydra_plugins/.../zips.py)
        argv = lower_command_line(sys.argv[1:])
    except ZipError as e:
        print(f"grok: {e}", file=sys.stderr)
        sys.exit(2)
    members = list(dict.fromkeys(member_overrides(sys.argv[1:])))
    exit_on_bad_command_line([*argv, *members])  # a missing option or key: one line, exit 2
    sys.argv[1:] = argv
    main()

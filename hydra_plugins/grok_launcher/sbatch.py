"""What a SLURM dry run shows before anything is submitted: the sbatch script submitit would
submit for the sweep's job array, rendered by submitit itself, and where each array task's
logs and run dirs will be.

The script is submitit's own text (``SlurmExecutor._make_submission_file_text`` with the
executor the launcher submits with), not a re-implementation: the partition, account, time
limit, ``--gpus`` line, signal, setup lines and output paths are exactly what ``sbatch`` gets.
"""
# No `from __future__ import annotations` (see grok_launcher.py).

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def _without_srun() -> Iterator[None]:
    """submitit refuses to build a SLURM executor where ``srun`` is not on PATH (a laptop,
    a login node without it); rendering the script needs no SLURM, so let it."""
    from submitit.slurm.slurm import SlurmExecutor

    saved = SlurmExecutor.__dict__["affinity"]
    SlurmExecutor.affinity = classmethod(lambda cls: 1)  # type: ignore[method-assign]
    try:
        yield
    finally:
        SlurmExecutor.affinity = saved  # type: ignore[method-assign]


def sbatch_script(make_executor: Callable[[], Any], n_tasks: int) -> str:
    """The sbatch file ``map_array`` submits for ``n_tasks`` array tasks (one task: a plain
    job, as submitit submits a single call)."""
    with _without_srun():
        slurm = make_executor()._executor  # AutoExecutor -> its SlurmExecutor
    params = dict(slurm.parameters)
    if n_tasks > 1:
        params["map_count"] = n_tasks  # what SlurmExecutor._internal_process_submissions sets
    from submitit.slurm.slurm import _make_sbatch_string

    return _make_sbatch_string(command=slurm._submitit_command_str, folder=slurm.folder, **params)


def log_paths(folder: str, n_tasks: int) -> list[str]:
    """Each array task's log, as submitit names it (``%A``: the array's job id)."""
    from submitit.core.utils import JobPaths

    stdout = str(JobPaths(folder=folder).stdout).replace("%t", "0")
    if n_tasks == 1:
        return [stdout]
    return [stdout.replace("%j", f"%A_{a}") for a in range(n_tasks)]


SHOWN_TASKS, SHOWN_DIRS = 20, 8  # a 10,000-run sweep's dry run stays readable


def describe(
    make_executor: Callable[[], Any], folder: str, packs: list, run_dir: Callable[[int], Path]
) -> str:
    """The script, then per array task: its log file and the run dirs it trains
    (``run_dir(i)``: job i's)."""
    script = sbatch_script(make_executor, len(packs))
    logs = log_paths(folder, len(packs))
    lines = ["sbatch script (rendered by submitit; one submission for the whole array):", ""]
    lines += ["  " + line if line else "" for line in script.rstrip("\n").splitlines()]
    where = "%A: the job id sbatch returns" if len(packs) > 1 else "%j: the job id"
    lines += ["", f"where each array task writes ({where}):"]
    for a, (members, log) in enumerate(zip(packs, logs, strict=True)):
        if a == SHOWN_TASKS:
            lines.append(f"  ... {len(packs) - a} more array tasks")
            break
        lines.append(f"  task {a}: log {log}")
        lines += [f"    run dir {run_dir(i)}" for i in members[:SHOWN_DIRS]]
        if len(members) > SHOWN_DIRS:
            lines.append(f"    ... {len(members) - SHOWN_DIRS} more run dirs")
    return "\n".join(lines)

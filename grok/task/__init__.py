"""Tasks: one module each, selected by the ``task`` config group through ``task.name``."""

from __future__ import annotations

from typing import Any

from grok.errors import ConfigError
from grok.task.base import ClassificationTask, Milestone, RegressionTask, Split, Task
from grok.task.fraction import FractionTask
from grok.task.group import GroupTask
from grok.task.modular import ModularTask
from grok.task.parity import ParityTask
from grok.task.reversal import ReversalTask
from grok.task.sine import SineTask

# task.name -> class. The modular family's names (modsub, modadd, ...) all map to ModularTask.
TASKS: dict[str, type[Task]] = {
    "sine": SineTask,
    "reversal": ReversalTask,
    "fraction": FractionTask,
    "group": GroupTask,
    "sparse_parity": ParityTask,
}


def task_class(cfg: Any) -> type[Task]:
    name = cfg.get("name")
    if isinstance(name, str) and name.startswith("mod"):
        return ModularTask
    if name not in TASKS:
        known = sorted([*TASKS, "modular (modadd, modsub, modmul, moddiv, ...)"])
        raise ConfigError(f"task.name={name!r}: known tasks are {known}")
    return TASKS[name]


def build_task(cfg: Any) -> Task:
    return task_class(cfg)(cfg)


__all__ = [
    "TASKS",
    "ClassificationTask",
    "GroupTask",
    "Milestone",
    "ModularTask",
    "ParityTask",
    "RegressionTask",
    "Split",
    "Task",
    "build_task",
    "task_class",
]

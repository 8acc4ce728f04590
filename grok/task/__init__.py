"""Tasks: one module per family, selected by the ``task`` config group (``task.name``)."""

from __future__ import annotations

from typing import Any

from grok.errors import ConfigError
from grok.task.base import Split, Task
from grok.task.modular import ModularTask

TASKS: dict[str, type[Task]] = {"modsub": ModularTask, "modular": ModularTask}


def task_class(cfg: Any) -> type[Task]:
    name = cfg.get("name")
    if name not in TASKS:
        raise ConfigError(f"task.name={name!r}: known tasks are {sorted(TASKS)}")
    return TASKS[name]


def build_task(cfg: Any) -> Task:
    return task_class(cfg)(cfg)


__all__ = ["TASKS", "Split", "Task", "build_task", "task_class"]

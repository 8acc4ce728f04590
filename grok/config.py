"""Validate a composed config before anything is trained or written."""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

from omegaconf import DictConfig, OmegaConf

from grok import checks, hardware, keys, logger, measures, model, optim, train
from grok.errors import ConfigError
from grok.task import build_task, task_class

GROUPS = ("task", "model", "optim", "train", "hardware", "logger", "measures")


def _task_problems(cfg: Any) -> list[str]:
    try:
        return task_class(cfg).problems(cfg)
    except ConfigError as e:
        return [str(e)]


VALIDATORS = {
    "task": _task_problems,
    "model": model.problems,
    "optim": optim.problems,
    "train": train.problems,
    "hardware": hardware.problems,
    "logger": logger.problems,
    "measures": measures.problems,
}


def problems(cfg: DictConfig) -> list[str]:
    """Every problem of a composed config, as 'key=value: what is allowed' lines."""
    try:
        flat = keys.flat_config(cfg)
    except Exception as e:  # an interpolation that does not resolve
        return [f"config cannot be resolved: {e}"]
    return problems_flat(flat)


def problems_flat(flat: dict[str, Any]) -> list[str]:
    """``problems`` of a flattened resolved config; each section is checked once per
    distinct value (a 10,000-job sweep has few distinct sections)."""
    sections: dict[str, list[tuple[str, Any]]] = {}
    for path, value in flat.items():
        head, _, rest = path.partition(".")
        sections.setdefault(head, []).append((rest, keys.freeze(value)))
    missing = [g for g in GROUPS if g not in sections]
    if missing:
        return [f"config has no {', '.join(missing)} section(s); conf/config.yaml composes them"]
    errors = [
        f"{path}: unknown key (no config group defines it){keys.suggest(path)}; attach "
        'free-form metadata with notes="..." or +meta.<name>=<value>'
        for path in keys.unknown_keys(flat)
    ]
    for name in VALIDATORS:
        errors += _section_problems(name, tuple(sorted(sections[name])))
    if not errors:
        errors += _split_problems(tuple(sorted(sections["task"])))
        errors += _loss_problems(
            tuple(sorted(sections["task"])), keys.freeze(flat.get("train.loss"))
        )
        errors += _model_task_problems(
            tuple(sorted(sections["task"])), tuple(sorted(sections["model"]))
        )
    return errors


@lru_cache(maxsize=16384)
def _section_problems(name: str, items: tuple) -> list[str]:
    return VALIDATORS[name](OmegaConf.create(keys.thaw(items)))


@lru_cache(maxsize=4096)
def _split_problems(items: tuple) -> list[str]:
    """Both splits need examples; known from the task's size without building its data."""
    task = build_task(OmegaConf.create(keys.thaw(items)))
    n, cut = task.n_examples, task.n_train
    if 1 <= cut < n:
        return []
    return [
        f"task.train_frac={task.train_frac}: leaves {cut} of {n:,} examples for training; "
        "both splits need at least one"
    ]


@lru_cache(maxsize=4096)
def _model_task_problems(task_items: tuple, model_items: tuple) -> list[str]:
    """What the model family cannot do on the task (the MLP on scalar input ...)."""
    task = build_task(OmegaConf.create(keys.thaw(task_items)))
    return model.task_problems(OmegaConf.create(keys.thaw(model_items)), task)


@lru_cache(maxsize=4096)
def _loss_problems(items: tuple, loss: Any) -> list[str]:
    """``train.loss`` must be one the task scores with (null: the task's own)."""
    if loss is None:
        return []
    cls = task_class(OmegaConf.create(keys.thaw(items)))
    if loss in cls.losses:
        return []
    name = dict(items).get("name")
    return [f"train.loss={loss!r}: task {name} allows {list(cls.losses)} (null: {cls.losses[0]})"]


def notices(flat: dict[str, Any]) -> list[str]:
    """Accepted but worth a line: values that do less than they seem to. An evaluation
    cadence longer than the run still evaluates its first and last epoch (a short trial run
    keeps a two-point curve); a batch larger than the train split is one full-batch step in
    shuffled order (close to ``train.batch_size=null``, not bitwise)."""
    out = []
    epochs, every = flat.get("train.epochs"), flat.get("train.eval_every")
    if isinstance(epochs, int) and isinstance(every, int) and every > epochs:
        out.append(
            f"train.eval_every={every} > train.epochs={epochs}: only epochs 0 and {epochs} "
            "are evaluated"
        )
    batch = flat.get("train.batch_size")
    if checks.is_integer(batch):
        items = tuple(sorted((k[5:], keys.freeze(v)) for k, v in flat.items() if k[:5] == "task."))
        n_train = _train_size(items)
        if batch >= n_train:
            out.append(
                f"train.batch_size={batch} >= the {n_train} training examples: each epoch is "
                "one full-batch step (in shuffled order)"
            )
    return out


@lru_cache(maxsize=4096)
def _train_size(items: tuple) -> int:
    return build_task(OmegaConf.create(keys.thaw(items))).n_train


def print_notices(flats: list[dict[str, Any]]) -> None:
    seen: dict[str, None] = {}
    for flat in flats:
        seen.update(dict.fromkeys(notices(flat)))
    for line in seen:
        print(f"grok: note: {line}", file=sys.stderr)


def validate(cfg: DictConfig) -> None:
    """Raise one ConfigError listing every bad value and what is allowed."""
    errors = problems(cfg)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


def refuse(problems: list[str]) -> None:
    """Raise one ConfigError of ``problems`` (if any)."""
    if problems:
        raise ConfigError("\n  ".join(problems))


def exit_on_error(check: Any) -> Any:
    """Run ``check``; print a ConfigError's message and exit 2 instead of a traceback."""
    try:
        return check()
    except ConfigError as e:
        print(f"grok: {e}", file=sys.stderr)
        sys.exit(2)

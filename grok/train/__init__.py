"""Training: the fused pack trainer and the entry point for one run."""

from __future__ import annotations

from typing import Any

from grok import checks
from grok.train import init_from
from grok.train.checkpoints import SCHEDULES as CHECKPOINT_SCHEDULES
from grok.train.member import Member
from grok.train.pack import Pack
from grok.train.stack import metric_names
from grok.train.stopping import problems as _stop_problems
from grok.train.trainer import PackTrainer, train_pack

LOSS_DTYPES = ("float64", "float32")
RESUME = ("auto", True, False)
# shuffle: an epoch passes over the shuffled train split in batches; random_batch: an epoch
# is one step on a fresh random batch (seed 002), so train.epochs counts steps.
SAMPLINGS = ("shuffle", "random_batch")


def problems(cfg: Any) -> list[str]:
    errors: list[str] = []
    for key in ("epochs", "eval_every", "log_every", "checkpoint_every", "keep_checkpoints"):
        errors += checks.integer(f"train.{key}", cfg.get(key))
    for key in ("batch_size", "keep_weights", "eval_batch_size"):
        text = "must be an integer >= 1 or null"
        errors += checks.integer(f"train.{key}", cfg.get(key), null=True, text=text)
    errors += checks.choice("train.loss_dtype", cfg.get("loss_dtype"), LOSS_DTYPES)
    errors += checks.choice(
        "train.fuse",
        cfg.get("fuse"),
        ("auto", True, False),
        text="allowed are auto, true, false",
    )
    errors += checks.choice(
        "train.checkpoint_schedule", cfg.get("checkpoint_schedule"), CHECKPOINT_SCHEDULES
    )
    sampling = cfg.get("sampling")
    if sampling not in SAMPLINGS:
        errors.append(f"train.sampling={sampling!r}: allowed are {list(SAMPLINGS)}")
    elif sampling == "random_batch" and cfg.get("batch_size") is None:
        errors.append(
            "train.sampling=random_batch: needs train.batch_size (each epoch is one step "
            "on that many examples drawn at random)"
        )
    errors += _stop_problems(cfg)
    errors += checks.choice(
        "train.resume", cfg.get("resume"), RESUME, text="allowed are auto, true, false"
    )
    errors += init_from.problems(cfg.get("init_from"))
    errors += checks.boolean("train.init_optimizer", cfg.get("init_optimizer"))
    if cfg.get("init_optimizer") is True and cfg.get("init_from") is None:
        errors.append("train.init_optimizer=true: needs train.init_from (the run to start from)")
    return errors


__all__ = ["Member", "Pack", "PackTrainer", "metric_names", "problems", "train_pack"]

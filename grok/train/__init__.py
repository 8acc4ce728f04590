"""Training: the fused pack trainer and the entry point for one run."""

from __future__ import annotations

from typing import Any

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


def _positive_int(cfg: Any, key: str, errors: list[str], allow_null: bool = False) -> None:
    value = cfg.get(key)
    if value is None and allow_null:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        extra = " or null" if allow_null else ""
        errors.append(f"train.{key}={value!r}: must be an integer >= 1{extra}")


def validate(cfg: Any) -> list[str]:
    errors: list[str] = []
    for key in ("epochs", "eval_every", "log_every", "checkpoint_every", "keep_checkpoints"):
        _positive_int(cfg, key, errors)
    for key in ("batch_size", "keep_weights", "eval_batch_size"):
        _positive_int(cfg, key, errors, allow_null=True)
    if cfg.get("loss_dtype") not in LOSS_DTYPES:
        errors.append(
            f"train.loss_dtype={cfg.get('loss_dtype')!r}: allowed are {list(LOSS_DTYPES)}"
        )
    if cfg.get("fuse", "auto") not in ("auto", True, False):
        errors.append(f"train.fuse={cfg.get('fuse')!r}: allowed are auto, true, false")
    schedule = cfg.get("checkpoint_schedule", "linear")
    if schedule not in CHECKPOINT_SCHEDULES:
        errors.append(
            f"train.checkpoint_schedule={schedule!r}: allowed are {list(CHECKPOINT_SCHEDULES)}"
        )
    sampling = cfg.get("sampling", "shuffle")
    if sampling not in SAMPLINGS:
        errors.append(f"train.sampling={sampling!r}: allowed are {list(SAMPLINGS)}")
    elif sampling == "random_batch" and cfg.get("batch_size") is None:
        errors.append(
            "train.sampling=random_batch: needs train.batch_size (each epoch is one step "
            "on that many examples drawn at random)"
        )
    errors += _stop_problems(cfg)
    if cfg.get("resume") not in RESUME:
        errors.append(f"train.resume={cfg.get('resume')!r}: allowed are auto, true, false")
    return errors


__all__ = ["Member", "Pack", "PackTrainer", "metric_names", "train_pack", "validate"]

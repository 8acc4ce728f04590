"""``train.init_from``: a run that starts from another run's checkpoint.

Varma et al. 2023 ("Explaining grokking through circuit efficiency") continue a grokked
model on a smaller train set (ungrokking); others continue with wd = 0 or on another
operation. The new run keeps its own config (split, train fraction, wd, task op, method);
only its starting weights (and, with ``train.init_optimizer=true``, its optimizer moments
and method state) come from the source.

- ``locate`` reads the source before anything is written: the dir, the epoch, a readable
  weights file whose ``model_args`` match the new model (every mismatch named). A refusal
  is a ``ConfigError`` (exit 2).
- The record (absolute path, epoch, sha256 of the weights file) goes into config.yaml
  (``init_source``) and summary.json (``init_from``).
- Only a fresh start reads the source (``grok.train.contract``): a resumed run continues
  from its own checkpoints, so a source moved or deleted later never matters to it.
- The step count (and with it the schedule, warm-up and Adam's bias correction) is the new
  run's own: step counts are pack-wide, and a member is exactly its own run.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from grok import keys
from grok.errors import ConfigError
from grok.model import model_config
from grok.store.rundir import RunStore
from grok.task import build_task

INIT_FROM = "train.init_from"
INIT_OPTIMIZER = "train.init_optimizer"
RECORD = "init_source"  # config.yaml's block; summary.json's key is "init_from"
# TransformerConfig fields that only choose the initial weights, which the source replaces.
INIT_ONLY = frozenset({"init", "init_std", "init_gain", "bias_init"})
# Keys that give the optimizer state its structure: a source's state fits only the same.
STATE_SHAPING = ("optim.name", "optim.grokfast.kind", "optim.grokfast.window")
FORM = "RUN_DIR (its newest checkpoint) or RUN_DIR@EPOCH (one of its checkpoints)"


class InitRefused(ConfigError):
    """``train.init_from`` names nothing this run can start from."""


@dataclass(frozen=True)
class Source:
    """The checkpoint a fresh run starts from, as checked by ``locate``."""

    run_dir: Path
    epoch: int
    sha256: str  # of the weights file
    optimizer: bool  # train.init_optimizer

    @property
    def weights(self) -> Path:
        return RunStore(self.run_dir).checkpoint_path("weights", self.epoch)

    @property
    def state(self) -> Path:
        return RunStore(self.run_dir).checkpoint_path("state", self.epoch)

    def record(self) -> dict[str, Any]:
        return {
            "path": str(self.run_dir),
            "epoch": self.epoch,
            "sha256": self.sha256,
            "optimizer": self.optimizer,
        }


def parse(value: Any) -> tuple[str, int | None]:
    """``"runs/a@800"`` -> ``("runs/a", 800)``; ``"runs/a"`` -> ``("runs/a", None)``."""
    text = str(value)
    path, sep, epoch = text.rpartition("@")
    if sep and epoch.isdigit() and path:
        return path, int(epoch)
    return text, None


def problems(value: Any) -> list[str]:
    """The form alone (``grok.train.problems``); ``locate`` checks what it names."""
    if value is None:
        return []
    if not isinstance(value, str) or not value.strip():
        return [f"{INIT_FROM}={value!r}: allowed are null or {FORM}"]
    if value.startswith("<") and value.endswith(">"):  # a preset's placeholder (+sweep=ungrok)
        return [f"{INIT_FROM}={value}: a placeholder; name the run to start from: {FORM}"]
    return []


def locate(flat: dict[str, Any], run_dir: Path) -> Source:
    """Check ``train.init_from`` of a flattened resolved config (reads, never writes)."""
    value = flat[INIT_FROM]
    text, wanted = parse(value)
    path = Path(os.path.expanduser(text))
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    where = f"{INIT_FROM}={value}"
    if not path.is_dir():
        raise InitRefused(f"{where}: {path} is not a directory; allowed: {FORM}")
    if path == Path(run_dir).resolve():
        raise InitRefused(f"{where}: that is this run's own dir; a run resumes itself anyway")
    store = RunStore(path)
    epochs = store.checkpoint_epochs("weights")
    if not epochs:
        raise InitRefused(f"{where}: {path} holds no weights checkpoint (checkpoints/weights_*.pt)")
    epoch = epochs[-1] if wanted is None else wanted
    if epoch not in epochs:
        raise InitRefused(
            f"{where}: {path} has no checkpoint at epoch {epoch}; its epochs: {_show(epochs)}"
        )
    optimizer = bool(flat.get(INIT_OPTIMIZER, False))
    if optimizer and epoch not in store.checkpoint_epochs("state"):
        states = store.checkpoint_epochs("state")
        raise InitRefused(
            f"{where} with {INIT_OPTIMIZER}=true: {path} kept no optimizer state at epoch "
            f"{epoch} (train.keep_checkpoints keeps the newest only); state files at epochs: "
            f"{_show(states) or 'none'}"
        )
    source = Source(path, epoch, "", optimizer)
    data = source.weights.read_bytes()
    saved = _load(data, source.weights, where)
    mismatches = model_mismatches(saved.get("model_args") or {}, _model_args(flat))
    if mismatches:
        lines = "\n".join(f"  {k}: {a!r} (source) -> {b!r} (this run)" for k, a, b in mismatches)
        raise InitRefused(
            f"{where}: its model differs from this run's:\n{lines}\n"
            "its weights fit only a model of the same shape (model.* and the task's vocabulary "
            "and context); allowed: a source trained with the same model"
        )
    if optimizer:
        _check_state_fits(saved.get("config") or {}, flat, where)
    return Source(path, epoch, hashlib.sha256(data).hexdigest(), optimizer)


def model_mismatches(source: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, source value, new value) for every architecture field that differs."""
    fields = sorted((set(source) | set(new)) - INIT_ONLY)
    absent = "(absent)"
    out = []
    for name in fields:
        a, b = source.get(name, absent), new.get(name, absent)
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            a, b = list(a), list(b)
        if a != b:
            out.append((name, a, b))
    return out


def load(source: Source) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """The source's weights (and optimizer state): exactly the file ``locate`` checked."""
    data = source.weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != source.sha256:
        raise InitRefused(
            f"{INIT_FROM}: {source.weights} changed since it was checked (sha256 "
            f"{source.sha256[:12]}...); start the run again"
        )
    weights = _load(data, source.weights, INIT_FROM)["model"]
    if not source.optimizer:
        return weights, None
    state = _load(source.state.read_bytes(), source.state, INIT_OPTIMIZER)
    return weights, state["optimizer"]


def _load(data: bytes, path: Path, where: str) -> dict[str, Any]:
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as e:  # torch raises RuntimeError, EOFError, pickle errors ...
        raise InitRefused(
            f"{where}: {path} cannot be read ({type(e).__name__}: {e}); allowed: an intact "
            "checkpoint (pick another epoch with RUN_DIR@EPOCH)"
        ) from None


def _model_args(flat: dict[str, Any]) -> dict[str, Any]:
    cfg = OmegaConf.create(keys.thaw(tuple((k, keys.freeze(v)) for k, v in flat.items())))
    return model_config(cfg.model, build_task(cfg.task)).to_dict()


def _check_state_fits(source_cfg: dict[str, Any], flat: dict[str, Any], where: str) -> None:
    old = keys.flat_config(source_cfg)
    differ = [(k, old.get(k), flat.get(k)) for k in STATE_SHAPING if old.get(k) != flat.get(k)]
    if differ:
        lines = "\n".join(f"  {k}: {a!r} (source) -> {b!r} (this run)" for k, a, b in differ)
        raise InitRefused(
            f"{where} with {INIT_OPTIMIZER}=true: the source's optimizer state has another "
            f"form:\n{lines}\nallowed: the same optimizer and method, or {INIT_OPTIMIZER}=false"
        )


def _show(epochs: list[int]) -> str:
    if len(epochs) <= 12:
        return ", ".join(map(str, epochs))
    return ", ".join(map(str, epochs[:5])) + ", ..., " + ", ".join(map(str, epochs[-5:]))

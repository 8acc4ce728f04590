"""The one loader of a trained model: ``load_checkpoint(run dir or weights file)``.

Each weights file carries what rebuilds its model (``model_args``: the TransformerConfig;
``config``: the run's resolved config, task included), as nanoGPT's checkpoints carry
``model_args``; files written before that fall back to the run dir's config.yaml. The LLC
calibration, the reports and the README's snippet all load through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grok.defaults import with_added_keys
from grok.store.files import DamagedFile
from grok.store.rundir import CHECKPOINTS, RunStore

_WEIGHTS = re.compile(r"^weights_(\d+)\.pt$")


@dataclass
class Checkpoint:
    """A trained model at one epoch, with the task (data and split) it was trained on."""

    model: Any  # grok.model.Transformer or MLPNet (TransformerLens-compatible)
    task: Any  # grok.task.Task
    config: Any  # the run's resolved config (DictConfig)
    epoch: int
    path: Path


def weights_file(path: str | Path, epoch: int | None = None) -> Path:
    """A weights file given itself, or a run dir (its newest weights, or ``epoch``'s)."""
    path = Path(path)
    if path.is_file():
        return path
    store = RunStore(path)
    epochs = store.checkpoint_epochs("weights")
    if not epochs:
        raise FileNotFoundError(f"{path} has no checkpoints/weights_*.pt")
    if epoch is None:
        return store.checkpoint_path("weights", epochs[-1])
    if epoch not in epochs:
        raise FileNotFoundError(f"{path} has no weights at epoch {epoch}; it has {epochs}")
    return store.checkpoint_path("weights", epoch)


def load_checkpoint(path: str | Path, epoch: int | None = None, device: str = "cpu") -> Checkpoint:
    """Rebuild the model saved at ``path`` (a run dir or a weights file) on ``device``."""
    import torch
    from omegaconf import OmegaConf

    # deferred: torch and TransformerLens: grok.store stays torch-free
    from grok.model import TransformerConfig, build_model, model_config
    from grok.task import build_task

    file = weights_file(path, epoch)
    try:
        saved = torch.load(file, weights_only=True, map_location="cpu")
    except Exception as e:
        raise DamagedFile(f"{file}: cannot be read ({type(e).__name__}: {e})") from None
    if "config" in saved:
        stored = saved["config"]
    else:  # written before checkpoints described themselves
        run_dir = file.parent.parent if file.parent.name == CHECKPOINTS else file.parent
        stored = RunStore(run_dir).read_config()
        if stored is None:
            raise FileNotFoundError(
                f"{file} does not describe its model and {run_dir} has no config"
            )
    cfg = OmegaConf.create(stored)
    task = build_task(cfg.task)
    args = saved.get("model_args")
    if args:
        model_cfg = TransformerConfig(**args)
    else:  # a config written by an older grok may lack keys added since
        model_cfg = model_config(OmegaConf.create(with_added_keys(stored)).model, task)
    model = build_model(model_cfg)
    model.load_state_dict(saved["model"])
    model.to(device).eval()
    epoch_saved = int(saved.get("epoch", _WEIGHTS.match(file.name).group(1)))  # type: ignore[union-attr]
    return Checkpoint(model=model, task=task, config=cfg, epoch=epoch_saved, path=file)

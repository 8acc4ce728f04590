"""``grok import-pizza``: one of Zhong et al.'s released models as a grok run dir.

The run dir holds what grok reads: ``config.yaml`` (``experiment=pizza_a`` with their
architecture and attention rate), one weights file at their last epoch (their weights in
grok's names, with ``model_args`` and the config, as grok's own checkpoints), and a
``summary.json`` whose status is ``imported`` and which names the source files and their
sha256: grok did not train it, and no metrics pretend it did. ``grok measure`` (Fourier and
pizza values of that checkpoint), ``grok.load_run(dir).model()`` and TransformerLens tools
then work on it as on a run of grok's.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from grok.errors import ConfigError
from grok.model import model_config
from grok.model.zhong2023 import load_released
from grok.store.files import atomic_torch_save, write_json
from grok.task import build_task

SOURCE = "github.com/fjzzq2002/pizza code/save (Zhong et al. 2023)"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grok_config(theirs: dict[str, Any], overrides: list[str]) -> Any:
    """``experiment=pizza_a`` composed with their architecture (a DictConfig)."""
    # deferred: Hydra's compose API, only for this command
    from hydra import compose, initialize_config_dir

    d_model = int(theirs["d_model"])
    model = [
        f"model.n_layers={int(theirs['n_layers'])}",
        f"model.n_heads={int(theirs['n_heads'])}",
        f"model.d_model={d_model}",
        f"model.d_head={d_model // int(theirs['n_heads'])}",
        f"model.d_mlp={4 * d_model}",
        f"model.act_fn={'relu' if theirs['act_fn'] == 'ReLU' else 'gelu'}",
        f"model.attn_rate={float(theirs['attn_coeff'])}",
        f"train.epochs={int(theirs['epoch'])}",
        f"optim.wd={float(theirs['weight_decay'])}",
        f"optim.lr={float(theirs['lr'])}",
        f"task.train_frac={float(theirs['frac'])}",
    ]
    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        task = [o for o in overrides if not o.startswith("task=")]  # pizza_a's task: modadd
        return compose("config", overrides=["experiment=pizza_a", *task, *model])


def import_pizza(config_json: Path, state_dict: Path, out: Path) -> Path:
    """Write the run dir ``out`` (new, or an empty dir); returns its weights file. It is
    written beside ``out`` and renamed into place, so a failure leaves nothing behind."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: exists and is not an empty dir; give a new run dir")
    released = load_released(config_json, state_dict)
    cfg = grok_config(released.config, released.overrides)
    model_args = released.model.cfg.to_dict()
    if model_config(cfg.model, build_task(cfg.task)).to_dict() != model_args:
        raise ConfigError(f"{config_json}: grok's config does not rebuild their model")  # a bug
    epoch = int(released.config["epoch"])
    container = OmegaConf.to_container(cfg, resolve=True)
    staging = out.parent / f".{out.name}.importing"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        weights = staging / "checkpoints" / f"weights_{epoch:06d}.pt"
        weights.parent.mkdir(parents=True)
        (staging / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        state = {"epoch": epoch, "model": released.model.state_dict()}
        atomic_torch_save({**state, "model_args": model_args, "config": container}, weights)
        source = {
            "from": SOURCE,
            "run_id": released.config.get("runid"),
            "config": {"file": str(config_json), "sha256": _sha256(Path(config_json))},
            "weights": {"file": str(state_dict), "sha256": _sha256(Path(state_dict))},
        }
        summary = {"status": "imported", "task": cfg.task.name, "epochs": epoch, "source": source}
        write_json(staging / "summary.json", summary)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "checkpoints" / weights.name

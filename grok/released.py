"""``grok import-pizza`` / ``grok import-chughtai``: a paper's released model as a grok run dir.

The run dir holds what grok reads: ``config.yaml`` (the paper's preset,
``experiment=pizza_a`` or ``chughtai_s5_transformer``, with their architecture and run's
values), one weights file at their last epoch (their weights in grok's names, with
``model_args`` and the config, as grok's own checkpoints), and a
``summary.json`` whose status is ``imported`` and which names the source files and their
sha256: grok did not train it, and no metrics pretend it did. ``grok measure`` (Fourier and
pizza or irreps values of that checkpoint), ``grok.load_run(dir).model()`` and TransformerLens tools
then work on it as on a run of grok's.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from grok.errors import ConfigError
from grok.model import chughtai2023, model_config, zhong2023
from grok.store.files import atomic_torch_save, write_json
from grok.task import build_task

PIZZA = "github.com/fjzzq2002/pizza code/save (Zhong et al. 2023)"
CHUGHTAI = "github.com/bilal-chughtai/rep-theory-mech-interp rep_theory (Chughtai et al. 2023)"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _compose(overrides: list[str]) -> Any:
    """grok's config (a DictConfig) under ``overrides``, as ``launch.py`` composes it."""
    # deferred: Hydra's compose API, only for these commands
    from hydra import compose, initialize_config_dir

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose("config", overrides=overrides)


def pizza_config(theirs: dict[str, Any], overrides: list[str]) -> Any:
    """``experiment=pizza_a`` composed with their architecture."""
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
    task = [o for o in overrides if not o.startswith("task=")]  # pizza_a's task: modadd
    return _compose(["experiment=pizza_a", *task, *model])


def chughtai_config(theirs: dict[str, Any]) -> Any:
    """``experiment=chughtai_s5_transformer`` (or ``_mlp``) with their run's group, widths,
    split and optimizer."""
    betas = ",".join(str(float(b)) for b in theirs.get("betas", [0.9, 0.98]))
    mlp = theirs.get("model") == "OneLayerMLP"
    widths = []
    if mlp:  # their transformer's "layers" entry is not read by its class
        layers = theirs["layers"]
        widths = [f"model.d_model={int(layers['embed_dim'])}"]
        widths.append(f"model.d_mlp={int(layers['hidden_dim'])}")
    return _compose(
        [
            f"experiment=chughtai_s5_{'mlp' if mlp else 'transformer'}",
            *widths,
            f"task.group={chughtai2023.group_name(theirs)}",
            f"task.train_frac={float(theirs['frac_train'])}",
            f"task.data_seed={int(theirs['seed'])}",
            f"model.seed={int(theirs['seed'])}",
            f"optim.lr={float(theirs['lr'])}",
            f"optim.wd={float(theirs['weight_decay'])}",
            f"optim.betas=[{betas}]",
            f"train.epochs={int(theirs['num_epochs'])}",
        ]
    )


def import_pizza(config_json: Path, state_dict: Path, out: Path) -> Path:
    """Zhong et al.'s ``config_<id>.json`` and ``model_<id>.pt`` as the run dir ``out``."""
    _refuse_existing(out)
    released = zhong2023.load_released(config_json, state_dict)
    cfg = pizza_config(released.config, released.overrides)
    sources = {"config": Path(config_json), "weights": Path(state_dict)}
    run_id = released.config.get("runid")
    epoch = int(released.config["epoch"])
    return write_imported(cfg, released.model, epoch, PIZZA, run_id, sources, out)


def import_chughtai(folder: Path, out: Path) -> Path:
    """Chughtai et al.'s ``batch_experiments/<run>/`` (cfg.json, model.pt) as ``out``."""
    _refuse_existing(out)
    model, theirs = chughtai2023.load_released(folder)
    cfg = chughtai_config(theirs)
    sources = {"config": folder / "cfg.json", "weights": folder / "model.pt"}
    epoch = int(theirs["num_epochs"])
    return write_imported(cfg, model, epoch, CHUGHTAI, folder.name, sources, out)


def _refuse_existing(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: exists and is not an empty dir; give a new run dir")


def write_imported(
    cfg: Any,
    model: Any,
    epoch: int,
    origin: str,
    run_id: str | None,
    sources: dict[str, Path],
    out: Path,
) -> Path:
    """Write the run dir ``out`` (new, or an empty dir); returns its weights file. It is
    written beside ``out`` and renamed into place, so a failure leaves nothing behind."""
    model_args = model.cfg.to_dict()
    if model_config(cfg.model, build_task(cfg.task)).to_dict() != model_args:
        raise ConfigError(f"{out}: grok's config does not rebuild their model")  # a bug
    container = OmegaConf.to_container(cfg, resolve=True)
    staging = out.parent / f".{out.name}.importing"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        weights = staging / "checkpoints" / f"weights_{epoch:06d}.pt"
        weights.parent.mkdir(parents=True)
        (staging / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        state = {"epoch": epoch, "model": model.state_dict()}
        atomic_torch_save({**state, "model_args": model_args, "config": container}, weights)
        source: dict[str, Any] = {"from": origin, "run_id": run_id}
        for role, path in sources.items():
            source[role] = {"file": str(path), "sha256": _sha256(path)}
        summary = {"status": "imported", "task": cfg.task.name, "epochs": epoch, "source": source}
        write_json(staging / "summary.json", summary)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "checkpoints" / weights.name

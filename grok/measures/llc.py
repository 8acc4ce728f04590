"""Local learning coefficient (LLC) through devinterp 2.x, and a calibration helper.

devinterp 2.x samples with SGLD from a dataset of ``{"input_ids": ...}`` items and a
per-position loss ``loss_fn(model, input_ids) -> [B, T-1]``. Our examples are not
token sequences (sine inputs are reals), so each item is ``[index, 0]`` and the loss
looks the example up: the task's own loss on the member's train split (for
classification, cross-entropy at the read positions: the last one for modular tasks).
Defaults: SGLD step 3e-3, localization 5, n*beta 2, 2 chains of 500 draws. These are
grok's, not seed 002's: the seed estimated every checkpoint (every 500 steps) with step
1e-3, localization 5, n*beta 2, 1 chain of 75 draws, after a loss-trace check on the final
model at step 0.03 (3 chains, 1,500 draws); ``experiment=fraction_seed`` runs it that way.
Calibrate for your model before trusting a value:

    python -m grok.measures.llc RUN_DIR [--epsilons 1e-4 3e-4 1e-3 3e-3] [--nbetas 1 2 10 30]
"""

from __future__ import annotations

import argparse
import copy
import gc
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from grok.measures.base import Measure, MemberView
from grok.store import load_checkpoint

DEFAULTS = {  # grok's (seed 002's values: conf/experiment/fraction_seed.yaml)
    "epsilon": 3e-3,
    "localization": 5.0,
    "nbeta": 2.0,
    "num_chains": 2,
    "num_draws": 500,
    "num_burnin_steps": 0,
    "batch_size": 256,
}


class _Indices(Dataset):
    def __init__(self, n: int):
        self.ids = torch.stack([torch.arange(n), torch.zeros(n, dtype=torch.long)], dim=1)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"input_ids": self.ids[i]}


@contextmanager
def _unfreeze_after():
    try:
        yield
    finally:
        gc.unfreeze()


def estimate_llc(
    model: torch.nn.Module, task: Any, x: Tensor, y: Tensor, seed: int = 0, **overrides: Any
) -> dict[str, float]:
    """LLC of ``model`` at its current weights on examples (x, y); returns mean and std."""
    from devinterp.slt.llc import llc

    opts = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    read_pos = task.read_pos

    def loss_fn(m: torch.nn.Module, input_ids: Tensor) -> Tensor:
        idx = input_ids[:, 0]
        out = m(x[idx], read_pos=read_pos)
        per_example = task.loss_terms(out, y[idx], torch.float32)
        return per_example[:, None]  # [B, T-1] with T = 2

    # devinterp runs gc.collect() around every chain; with a large heap (a notebook, a test
    # session, a big pack) that costs seconds per call. Objects that exist now are not
    # garbage of the sampler's: freezing them makes those collections cheap.
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp, _unfreeze_after():
        result = llc(
            model,
            _Indices(len(x)),
            {},
            lr=float(opts["epsilon"]),
            n_beta=float(opts["nbeta"]),
            localization=float(opts["localization"]),
            loss_fn=loss_fn,
            num_chains=int(opts["num_chains"]),
            num_draws=int(opts["num_draws"]),
            num_burnin_steps=int(opts["num_burnin_steps"]),
            batch_size=min(int(opts["batch_size"]), len(x)),
            init_seed=seed,
            device=str(x.device),
            output_path=str(Path(tmp) / "llc"),
        )
    return {"mean": float(result.llc_mean), "std": float(result.llc_std)}


class LLCMeasure(Measure):
    """``llc/mean`` and ``llc/std`` per member, every ``every_factor``-th measure step."""

    name = "llc"

    def __init__(self, cfg: Any = None):
        super().__init__(cfg)
        cfg = dict(cfg or {})
        self.every_factor = int(cfg.pop("every_factor", 10))
        self.options = cfg

    def compute(self, view: MemberView) -> dict[str, Any]:
        # SGLD moves the weights it samples around: give it its own copy. The seed is the
        # member's model seed and epoch, never its place in a pack.
        model = copy.deepcopy(view.model).requires_grad_(True)
        seed = int(view.cfg.model.seed) * 1_000_003 + view.epoch
        est = estimate_llc(model, view.task, view.train.x, view.train.y, seed=seed, **self.options)
        return {"llc/mean": est["mean"], "llc/std": est["std"]}


def checkpoint_data(run_dir: Path, epoch: int | None = None) -> tuple[Any, Any, Tensor, Tensor]:
    """(model, task, train x, train y) of a run dir's checkpoint (the latest by default)."""
    try:
        ckpt = load_checkpoint(run_dir, epoch)
    except FileNotFoundError as e:
        raise SystemExit(str(e)) from None
    x, y = ckpt.task.dataset()
    train = ckpt.task.split(len(x)).train
    return ckpt.model.requires_grad_(True), ckpt.task, x[train], y[train]


def calibrate(
    run_dir: Path, epsilons: list[float], nbetas: list[float], **options: Any
) -> list[list[float]]:
    """Mean LLC for each (epsilon, nbeta): look for a region where it is stable."""
    model, task, x, y = checkpoint_data(run_dir, options.pop("epoch", None))
    table = []
    for nbeta in nbetas:
        row = [
            estimate_llc(model, task, x, y, epsilon=e, nbeta=nbeta, **options)["mean"]
            for e in epsilons
        ]
        table.append(row)
    print(f"LLC of {run_dir} ({len(x)} train examples); rows: n*beta, columns: SGLD epsilon")
    header = "nbeta / eps"
    print(f"{header:>12}" + "".join(f"{e:>12.1e}" for e in epsilons))
    for nbeta, row in zip(nbetas, table, strict=True):
        print(f"{nbeta:>12g}" + "".join(f" {v:>11.4g}" for v in row))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Calibrate SGLD for LLC estimates on a run's checkpoint."
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3, 3e-3])
    parser.add_argument("--nbetas", type=float, nargs="+", default=[1.0, 2.0, 10.0, 30.0])
    parser.add_argument("--localization", type=float, default=DEFAULTS["localization"])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--epoch", type=int, default=None)
    args = parser.parse_args()
    calibrate(
        args.run_dir,
        args.epsilons,
        args.nbetas,
        localization=args.localization,
        num_draws=args.draws,
        num_chains=args.chains,
        epoch=args.epoch,
    )


if __name__ == "__main__":
    main()

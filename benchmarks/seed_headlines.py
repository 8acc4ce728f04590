"""Headline numbers of the seeds' notebooks next to grok's presets, from short CPU runs.

Not a speed benchmark: it reruns each seed's training loop (transcribed in
tests/seed_transcripts.py, the seeds' own init, grok's data) and reads grok runs of the
``*_seed`` presets (``launch.py experiment=..._seed hydra.run.dir=RUN``, before and after a
change), then prints one table per seed. Runs are shortened to fit a 2-core CPU:

    python benchmarks/seed_headlines.py seed sine OUT/seed_sine.json     # ~2 min
    python benchmarks/seed_headlines.py table sine OUT/seed_sine.json RUN_NOW RUN_BEFORE

``SHORT`` holds each preset's shortening; pass the same overrides to launch.py. Measured on
the 2-core CPU (one thread each, 2026-11): sine ~2 min per run, reversal 2-4 min, fraction
15-25 min for 5,000 steps: after a few hundred steps the model's floats go denormal and a step
slows from ~22 ms to ~200 ms, in the seed's loop as in grok's (torch.set_flush_denormal(True)
restores ~20 ms; neither the seed nor grok sets it).
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.seed_transcripts import (
    FractionModel,
    SineTransformer,
    TLTransformer,
    seed004_lr_lambda,
)

SHORT = {  # launch.py overrides that shorten each preset (the seed runs use the same sizes)
    "sine": [
        *("task.n_points=25", "model.d_model=32", "model.d_head=8", "model.d_mlp=128"),
        *("train.epochs=1500", "train.checkpoint_every=1500"),
    ],
    "reversal": [],  # the full seed 004 run: 40 epochs
    "fraction": ["train.epochs=5000"],  # 5,000 of the seed's 50,000 steps
}


# --- the seeds' loops --------------------------------------------------------------------------
def seed_sine() -> dict:
    from grok.task import build_task
    from tests.conftest import make_cfg

    task = build_task(make_cfg("experiment=sine_seed", *SHORT["sine"]).task)
    dataset, labels = task.dataset()  # seed 000's k and labels (checked in test_task_sine)
    split = task.split(len(dataset))
    train_data, train_labels = dataset[split.train], labels[split.train]
    test_data, test_labels = dataset[split.test], labels[split.test]
    model = SineTransformer(32, 4, 8, 128, 25, seed=999)
    for name, param in model.named_parameters():
        if "b_" in name:
            param.requires_grad = False
    loss_fn = torch.nn.MSELoss()
    epochs = 1500
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, betas=(0.9, 0.98))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    curve = []
    for epoch in range(epochs + 1):
        with torch.no_grad():
            if epoch % 100 == 0 or epoch == epochs:
                curve.append(
                    (
                        epoch,
                        loss_fn(model(train_data), train_labels).item(),
                        loss_fn(model(test_data), test_labels).item(),
                    )
                )
        if epoch == epochs:
            break
        train_loss = loss_fn(model(train_data), train_labels)
        optimizer.zero_grad()
        train_loss.backward()
        optimizer.step()
        scheduler.step()
    w, b = model.k_input_projection.weight[:, 0], model.k_input_projection.bias
    return {"curve": curve, "pc1_corr": pc1_k_corr(w.detach(), b.detach(), task)}


def pc1_k_corr(w: torch.Tensor, b: torch.Tensor, task) -> float:
    """Seed 000's PCA of the k-embedding over linspace(k_min, k_max, 1000): |corr(k, PC1)|."""
    k = torch.linspace(task.k_min, task.k_max, 1000)[:, None].double()
    emb = k * w.double() + b.double()
    centered = emb - emb.mean(0)
    pc1 = centered @ torch.linalg.svd(centered, full_matrices=False)[2][0]
    return abs(float(torch.corrcoef(torch.stack([k[:, 0], pc1]))[0, 1]))


def seed_reversal() -> dict:
    all_sequences = torch.tensor(list(itertools.product(range(4), repeat=8)))
    targets = torch.flip((all_sequences + 1) % 4, dims=[1])
    full = torch.cat([torch.full((65536, 1), 4), all_sequences, targets], dim=1)
    train_dataset, holdout_dataset = full[:60000], full[60000:]
    torch.manual_seed(0)  # seed 004 never seeds
    model = TLTransformer(2, 4, 1, 2, 16, 5, 16)
    model.tl_init()
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=seed004_lr_lambda)
    curve = []
    for epoch in range(40):
        perm = torch.randperm(60000)
        for i in range(0, 60000, 256):
            batch = train_dataset[perm[i : i + 256]]
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits[:, 8:].reshape(-1, 5), batch[:, 9:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
        scheduler.step()
        curve.append((epoch + 1, reversal_accuracy(model, holdout_dataset)))
    return {"curve": curve, "ablation": seed_ablation(model, holdout_dataset)}


def reversal_accuracy(model, data: torch.Tensor) -> float:
    correct = total = 0
    with torch.no_grad():
        for start in range(0, len(data), 256):
            batch = data[start : start + 256]
            correct += (model(batch[:, :-1]).argmax(-1)[:, 8:] == batch[:, 9:]).sum().item()
            total += len(batch) * 8
    return correct / total


def seed_ablation(model, holdout: torch.Tensor) -> dict:
    """Seed 004's ablation study: zero a weight in place, evaluate the holdout, restore."""
    out = {"original": reversal_accuracy(model, holdout)}
    for label, layer, module, weight in (
        ("W_out L0", 0, "mlp", "W_out"),
        ("W_out L1", 1, "mlp", "W_out"),
        ("W_O L0", 0, "attn", "W_O"),
    ):
        tensor = getattr(model.blocks[layer], module).get_parameter(weight)
        backup = tensor.detach().clone()
        with torch.no_grad():
            tensor.zero_()
        out[label] = reversal_accuracy(model, holdout)
        with torch.no_grad():
            tensor.copy_(backup)
    return out


def seed_fraction(steps: int = 5000) -> dict:
    from grok.task import build_task
    from tests.conftest import make_cfg

    task = build_task(make_cfg("experiment=fraction_seed").task)
    x, y = task.dataset()  # the seed's own data came from unseeded `random`: grok's instead
    split = task.split(len(x))
    train_x, train_y, test_x, test_y = x[split.train], y[split.train], x[split.test], y[split.test]
    torch.manual_seed(0)
    model = FractionModel(26, 10, 64, 48)
    optimizer = torch.optim.Adam(model.parameters(), weight_decay=0.1, lr=0.01)
    loss_fn = torch.nn.MSELoss()
    curve, checkpoints = [], []
    for i in range(steps):
        batch = torch.randperm(len(train_x))[:256]
        optimizer.zero_grad()
        loss = loss_fn(model(train_x[batch]), train_y[batch])
        loss.backward()
        optimizer.step()
        if (i + 1) % 500 == 0:
            checkpoints.append((i + 1, copy.deepcopy(model)))
            model.eval()  # the seed's test()
            with torch.no_grad():
                curve.append(
                    (
                        i + 1,
                        loss_fn(model(train_x), train_y).item(),
                        loss_fn(model(test_x), test_y).item(),
                        (model(test_x) - test_y).abs().mean().item(),
                    )
                )
    llc = [(s, seed_llc(m, train_x, train_y, seed=s)) for s, m in checkpoints]
    return {"curve": curve, "llc": llc}


def seed_llc(model, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Seed 002's final LLC cell (lr 1e-3, nbeta 2, localization 5, 1 chain, 75 draws, MSE),
    through grok's devinterp 2.x call. The copy is put in eval mode: dropout off while
    sampling, as grok's (devinterp 1.x's train/eval handling is not checked here)."""
    from grok.measures.llc import estimate_llc

    class Mse:
        read_pos = None

        @staticmethod
        def loss_terms(out, target, dtype):
            return (out - target).pow(2).mean(-1)

    class Adapter(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, tokens, read_pos=None):
            return self.inner(tokens)

    inner = copy.deepcopy(model)
    for m in inner.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if isinstance(m, torch.nn.MultiheadAttention):
            m.dropout = 0.0
    est = estimate_llc(
        Adapter(inner),
        Mse,
        x,
        y,
        seed=seed,
        epsilon=1e-3,
        nbeta=2.0,
        localization=5.0,
        num_chains=1,
        num_draws=75,
        batch_size=256,
    )
    return est["mean"]


# --- tables --------------------------------------------------------------------------------------
def grok_rows(run: str) -> list[dict]:
    return [json.loads(line) for line in open(Path(run) / "metrics.jsonl")]


def table(which: str, seed_json: str, runs: list[str]) -> None:
    seed = json.loads(Path(seed_json).read_text())
    if which == "sine":
        from grok.store import load_checkpoint

        print("| | train MSE (epoch 0) | train MSE (final) | test MSE (final) | PC1-k corr |")
        c = seed["curve"]
        corr = seed["pc1_corr"]
        print(f"| seed 000 | {c[0][1]:.4g} | {c[-1][1]:.4g} | {c[-1][2]:.4g} | {corr:.6f} |")
        for run in runs:
            rows, ck = grok_rows(run), load_checkpoint(run)
            corr = pc1_k_corr(ck.model.embed.W_E[0].detach(), ck.model.embed.b_E.detach(), ck.task)
            print(
                f"| {run} | {rows[0]['train_mse']:.4g} | {rows[-1]['train_mse']:.4g} | "
                f"{rows[-1]['test_mse']:.4g} | {corr:.6f} |"
            )
    elif which == "reversal":
        from grok.store import load_checkpoint

        holdout = seed_holdout()
        print("| | holdout acc (epochs 1, 5, 10, 40) | original | W_out L0 | W_out L1 | W_O L0 |")
        accs = [a for _, a in seed["curve"]]
        show = lambda a: ", ".join(f"{a[i]:.3f}" for i in (0, 4, 9, 39))  # noqa: E731
        ab = seed["ablation"]
        print(f"| seed 004 | {show(accs)} | " + " | ".join(f"{v:.3f}" for v in ab.values()) + " |")
        for run in runs:
            rows = [r for r in grok_rows(run) if r["epoch"] > 0]
            model = load_checkpoint(run).model
            ab = seed_ablation(model_as_tl(model), holdout)
            print(
                f"| {run} | {show([r['test_acc'] for r in rows])} | "
                + " | ".join(f"{v:.3f}" for v in ab.values())
                + " |"
            )
            hooks = {
                k: round(rows[-1]["reversal/acc"] - v, 3)
                for k, v in rows[-1].items()
                if k.startswith("reversal/ablate_")
            }
            print(
                f"|   its own measure: acc {rows[-1]['reversal/acc']:.3f}, after ablation {hooks} |"
            )
    else:
        c = seed["curve"]
        print("| | train MSE | test MSE | test MAE (steps 500, 2500, 5000) | LLC (500 ... 5000) |")
        print(
            f"| seed 002 | {c[-1][1]:.4g} | {c[-1][2]:.4g} | "
            f"{c[0][3]:.3f}, {c[4][3]:.3f}, {c[-1][3]:.3f} | "
            + ", ".join(f"{v:.1f}" for _, v in seed["llc"])
            + " |"
        )
        for run in runs:
            import yaml

            rows = grok_rows(run)
            train = yaml.safe_load((Path(run) / "config.yaml").read_text())["train"]
            per_epoch = 1 if train.get("sampling") == "random_batch" else 3  # 600 / 256 before
            nearest = [
                min(rows, key=lambda r: abs(r["epoch"] * per_epoch - s))["test_mae"]
                for s in (500, 2500, 5000)
            ]
            llc = [f"{r['llc/mean']:.1f}" for r in rows if "llc/mean" in r]
            print(
                f"| {run} | {rows[-1]['train_mse']:.4g} | {rows[-1]['test_mse']:.4g} | "
                + ", ".join(f"{m:.3f}" for m in nearest)
                + f" | {', '.join(llc) or 'off'} |"
            )


def seed_holdout() -> torch.Tensor:
    seqs = torch.tensor(list(itertools.product(range(4), repeat=8)))
    full = torch.cat([torch.full((65536, 1), 4), seqs, torch.flip((seqs + 1) % 4, dims=[1])], 1)
    return full[60000:]


def model_as_tl(model) -> TLTransformer:
    tl = TLTransformer(2, 4, 1, 2, 16, 5, 16)
    state = {k: v for k, v in model.state_dict().items() if k in dict(tl.named_parameters())}
    tl.load_state_dict(state, strict=True)
    return tl


if __name__ == "__main__":
    mode, which = sys.argv[1], sys.argv[2]
    if mode == "seed":
        result = {"sine": seed_sine, "reversal": seed_reversal, "fraction": seed_fraction}[which]()
        Path(sys.argv[3]).write_text(json.dumps(result))
    else:
        table(which, sys.argv[3], sys.argv[4:])

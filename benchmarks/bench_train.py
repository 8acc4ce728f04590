"""Training speed: a seed-001-style loop vs. a grok run vs. fused packs, on one device.

    python benchmarks/bench_train.py                # CPU: quickstart sizes (p=47), packs of 8
    python benchmarks/bench_train.py --device cuda  # GPU: Nanda sizes (p=113), packs of 8/64/256

Every row is timed in this process on this device and printed with its ratio to the
seed-style loop, so the numbers compare within one run (never across machines).
"""

from __future__ import annotations

import argparse
import copy
import resource
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import torch
from hydra import compose, initialize_config_dir

from grok.model import Transformer, model_config
from grok.run import prepare_member
from grok.task import build_task
from grok.train import PackTrainer
from grok.train.cuda_graph import capture_step

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_cfg(args: argparse.Namespace, seed: int, fuse: str = "auto"):
    overrides = [
        f"train.fuse={fuse}",
        f"task.p={args.p}",
        f"task.train_frac={args.train_frac}",
        f"model={args.model}",
        f"model.seed={seed}",
        f"hardware.device={args.device}",
        f"++hardware.tf32={str(args.tf32).lower()}",
        "train.progress=false",
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process high-water mark


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def time_epochs(run_epoch: Callable[[int], None], epochs: int, warmup: int, device) -> float:
    for e in range(warmup):
        run_epoch(e)
    sync(device)
    start = time.perf_counter()
    for e in range(epochs):
        run_epoch(warmup + e)
    sync(device)
    return (time.perf_counter() - start) / epochs


def seed_style(args: argparse.Namespace, device: torch.device) -> float:
    """Seed 001's loop: eager, .item() each epoch, test eval each epoch, deepcopy every 100."""
    cfg = compose_cfg(args, 999)
    task = build_task(cfg.task)
    model = Transformer(model_config(cfg.model, task)).to(device)
    model.init_weights(999)
    x, y = task.dataset()
    split = task.split(len(x))
    train_x, train_y = x[split.train].to(device), y[split.train, 0].to(device)
    test_x, test_y = x[split.test].to(device), y[split.test, 0].to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    losses, checkpoints = [], []

    def loss_fn(logits, labels):
        logp = logits[:, -1].to(torch.float64).log_softmax(-1)
        return -logp.gather(-1, labels[:, None])[:, 0].mean()

    def epoch(e: int) -> None:
        loss = loss_fn(model(train_x), train_y)
        loss.backward()
        losses.append(loss.item())
        opt.step()
        opt.zero_grad()
        with torch.inference_mode():
            losses.append(loss_fn(model(test_x), test_y).item())
        if (e + 1) % 100 == 0:
            checkpoints.append(copy.deepcopy(model.state_dict()))

    return time_epochs(epoch, args.epochs, args.warmup, device)


def grok_pack(args: argparse.Namespace, device: torch.device, n: int, fuse: str = "auto") -> float:
    """n members trained as one pack, as the launcher does; eval every 100 epochs as by
    default. ``fuse``: auto (CPU: member by member, bitwise a lone run's; GPU: one vmap),
    true (one vmap over the padded pack)."""
    with TemporaryDirectory() as tmp:
        members = [prepare_member(compose_cfg(args, s, fuse), Path(tmp) / str(s)) for s in range(n)]
        stack = PackTrainer(members, progress=False).stack
        graph = capture_step(stack) if args.cuda_graph else None

        def epoch(e: int) -> None:
            stack.train_epoch(graph)
            if (e + 1) % 100 == 0:
                stack.evaluate()

        return time_epochs(epoch, args.epochs, args.warmup, device)


def check_graph_matches_eager(args: argparse.Namespace, device: torch.device) -> float:
    """Max |param difference| between graphed and eager training after a few epochs."""
    results = []
    for graphed in (False, True):
        with TemporaryDirectory() as tmp:
            member = prepare_member(compose_cfg(args, 0), Path(tmp))
            stack = PackTrainer([member], progress=False).stack
            graph = capture_step(stack) if graphed else None
            for _ in range(20):
                stack.train_epoch(graph)
            results.append({k: v.detach().clone() for k, v in stack.params.items()})
    return max((results[0][k] - results[1][k]).abs().max().item() for k in results[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--p", type=int, default=None, help="prime (default 113 on GPU, 47 on CPU)")
    parser.add_argument("--train-frac", type=float, default=None)
    parser.add_argument("--model", default="nanda")
    parser.add_argument("--sizes", default=None, help="pack sizes, e.g. 8,64,256")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--tf32", action="store_true")
    parser.add_argument("--no-cuda-graph", dest="cuda_graph", action="store_false")
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    args.p = args.p or (113 if gpu else 47)
    args.train_frac = args.train_frac or (0.3 if gpu else 0.6)
    args.epochs = args.epochs or (200 if gpu else 30)
    sizes = [int(s) for s in (args.sizes or ("8,64,256" if gpu else "8")).split(",")]
    name = torch.cuda.get_device_name(device) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"device: {name}; p={args.p}, train_frac={args.train_frac}, model={args.model}, "
        f"tf32={args.tf32}, cuda_graph={args.cuda_graph and gpu}, {args.epochs} timed epochs"
    )
    if gpu and args.cuda_graph:
        print(
            f"graphed vs eager step, max |param diff| after 20 epochs: "
            f"{check_graph_matches_eager(args, device):.3g}"
        )

    rows = []
    reset_peak(device)
    rows.append(("seed-001-style loop", 1, seed_style(args, device), peak_memory_mb(device)))
    reset_peak(device)
    rows.append(("grok run (pack of 1)", 1, grok_pack(args, device, 1), peak_memory_mb(device)))
    for n in sizes:
        for fuse, label in [("auto", "")] if gpu else [("auto", " exact"), ("true", " vmap")]:
            reset_peak(device)
            seconds = grok_pack(args, device, n, fuse)
            rows.append((f"grok pack of {n}{label}", n, seconds, peak_memory_mb(device)))

    base = rows[0][2]
    single = rows[1][2]
    print(
        f"{'configuration':<26}{'ms/epoch':>11}{'ms/model-epoch':>16}{'peak MB':>10}"
        f"{'x seed loop':>13}{'x lone run':>12}"
    )
    for label, n, seconds, mem in rows:
        per_model = seconds / n
        print(
            f"{label:<26}{seconds * 1e3:>11.3f}{per_model * 1e3:>16.3f}{mem:>10.0f}"
            f"{per_model / base:>13.3f}{per_model / single:>12.3f}"
        )
    if not gpu:
        print("(CPU peak MB is the process's resident high-water mark so far)")
        print(
            "exact: train.fuse=auto on CPU, members one by one through a lone run's tensors "
            "(bitwise a lone run); vmap: train.fuse=true, one vmap over the padded pack"
        )


if __name__ == "__main__":
    main()

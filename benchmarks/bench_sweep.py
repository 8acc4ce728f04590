"""What train.stop_after_grok saves a sweep: one pack trained with and without the stop.

    python benchmarks/bench_sweep.py                      # the issue's sweep: 4 seeds x 4 wd
    python benchmarks/bench_sweep.py --seeds 2 --wd 2.0 1.0 --epochs 1500   # a smaller one
    python benchmarks/bench_sweep.py --small --epochs 1000 --stop 50   # minutes, not hours

The sweep is the quickstart (measures off) over model.seed x optim.wd with train.epochs as
the ceiling, trained as one pack in this process: member by member (the CPU exact path) and
fused (train.fuse=true), each with the stop off and on. Every row is timed here, so the
ratios compare within one run, never across machines. Stop epochs are printed per member.
``--small`` sweeps the smallest sequence reversal (tiny model, 81 sequences; groks at epoch
~150) instead of the quickstart: the same machinery in minutes on a loaded 2-core box.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from hydra import compose, initialize_config_dir

from grok.run import run_pack

CONF = Path(__file__).resolve().parents[1] / "conf"
SMALL = ["task=reversal", "task.length=4", "task.vocab=3", "model=tiny", "optim.lr=1e-3"]
SMALL += ["train.eval_every=5", "train.log_every=50", "train.checkpoint_every=500"]


def sweep(args: argparse.Namespace, root: Path, fuse: bool, stop: int | None) -> dict:
    task = SMALL if args.small else ["experiment=quickstart"]
    overrides = [
        *task,
        "measures=none",
        "logger=none",
        "train.progress=false",
        f"train.epochs={args.epochs}",
        f"train.fuse={str(fuse).lower()}",
        f"train.stop_after_grok={'null' if stop is None else stop}",
        f"hardware.threads={args.threads}",
    ]
    members = []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for seed in range(args.seeds):
            for wd in args.wd:
                cfg = compose("config", [*overrides, f"model.seed={seed}", f"optim.wd={wd}"])
                members.append((cfg, root / f"s{seed}_wd{wd}"))
    t0 = time.perf_counter()
    summaries = run_pack(members, progress=False)
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "epochs": [s["epochs"] for s in summaries],
        "grok": [s["grok_epoch"] for s in summaries],
        "names": [run_dir.name for _, run_dir in members],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--wd", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0])
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--stop", type=int, default=200, help="train.stop_after_grok")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--small", action="store_true", help="tiny reversal, not quickstart")
    args = parser.parse_args()
    n = args.seeds * len(args.wd)
    what = "reversal L4 V3, tiny" if args.small else "quickstart"
    print(f"{n}-run sweep ({what}, {args.seeds} seeds x wd {args.wd}), ceiling {args.epochs}")
    print("| path | stop_after_grok | wall s | member-epochs | mean epochs/member | speed-up |")
    print("|---|---|---|---|---|---|")
    stops = {}
    for fuse in (False, True):
        path = "fused" if fuse else "exact"
        rows = {}
        for stop in (None, args.stop):
            with TemporaryDirectory() as tmp:
                rows[stop] = sweep(args, Path(tmp), fuse, stop)
        base = rows[None]["wall"]
        for stop, r in rows.items():
            total = sum(r["epochs"])
            print(
                f"| {path} | {stop} | {r['wall']:.1f} | {total} | {total / n:.0f} | "
                f"{base / r['wall']:.2f}x |"
            )
        stops[path] = rows[args.stop]
    for path, r in stops.items():
        print(f"\nstop epochs ({path}, stop_after_grok={args.stop}):")
        for name, grok, epochs in zip(r["names"], r["grok"], r["epochs"], strict=True):
            print(f"  {name}: grok {grok}, stopped at {epochs}")


if __name__ == "__main__":
    main()

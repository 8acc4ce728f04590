"""Cost of the progress measures against training, and a measure call at p near 1000.

    python benchmarks/bench_measures.py            # p=113 ratio + one p=997 call (CPU)

Prints, from one run on one device: ms per training epoch, ms per measure call, the
measures' share of training time at measures.every=100, and the time and peak memory
of one Fourier measure call at p=997.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from hydra import compose, initialize_config_dir

from grok.run import prepare_member
from grok.train import PackTrainer
from grok.train.records import measure

CONF = Path(__file__).resolve().parents[1] / "conf"


def trainer(overrides: list[str], tmp: str) -> PackTrainer:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, "train.progress=false", "logger=none"])
    return PackTrainer([prepare_member(cfg, Path(tmp))], progress=False)


def timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--big-p", type=int, default=997)
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        t = trainer(["experiment=nanda2023"], tmp)
        t.stack.train_epoch()
        per_epoch = timed(t.stack.train_epoch, args.epochs)
        measure(t.stack, t.records, 0)  # warm-up
        per_measure = timed(lambda: measure(t.stack, t.records, 0), 3)
        share = per_measure / (100 * per_epoch)
        print(
            f"p=113 Nanda model: {per_epoch * 1e3:.1f} ms/epoch; "
            f"all measures {per_measure * 1e3:.0f} ms "
            f"per call; at measures.every=100 they cost {100 * share:.1f}% of training time"
        )
    with TemporaryDirectory() as tmp:
        t = trainer([f"task.p={args.big_p}", "measures.names=[fourier]"], tmp)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        start = time.perf_counter()
        (row,) = measure(t.stack, t.records, 0)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(
            f"p={args.big_p}: one Fourier measure call {elapsed:.1f} s; process peak RSS "
            f"{peak:.2f} GiB (was {before:.2f} GiB before the call); "
            f"restricted loss {row.get('fourier/restricted_loss', float('nan')):.3f}"
        )


if __name__ == "__main__":
    main()

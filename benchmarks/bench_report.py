"""How long ``grok report`` / ``grok ls`` take on a large sweep (synthetic run dirs).

    python benchmarks/bench_report.py [--runs 1000] [--rows 250]

Writes ``--runs`` run dirs with the real layout (summary.json, config.yaml,
.hydra/overrides.yaml, metrics.jsonl with ``--rows`` evaluations) into a temp dir and
times loading (as ``grok report`` and as ``grok.load_sweep`` for notebooks), the HTML
report, and the HTML + PNG report.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path


def make_sweep(root: Path, n_runs: int, rows: int = 25) -> Path:
    sweep = Path(root) / "multirun"
    rng = random.Random(0)
    wds = [0.1, 0.3, 1.0, 3.0]
    lrs = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    for i in range(n_runs):
        wd, lr, seed = wds[i % 4], lrs[(i // 4) % 5], i // 20
        d = sweep / f"{i}_optim.lr={lr},optim.wd={wd},model.seed={seed}"
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(
            f"- optim.wd={wd}\n- optim.lr={lr}\n- model.seed={seed}\n"
        )
        (d / "config.yaml").write_text(f"optim:\n  wd: {wd}\n  lr: {lr}\nmodel:\n  seed: {seed}\n")
        grok = int(2000 / (wd * lr * 1e3) ** 0.5 * rng.uniform(0.7, 1.3))
        epochs = [e * 100 for e in range(rows)]
        metrics = [
            {
                "epoch": e,
                "train_loss": math.exp(-e / 300),
                "test_loss": 5 * math.exp(-max(e - grok, 0) / 300),
                "train_acc": min(1.0, e / 300),
                "test_acc": 1.0 if e >= grok else 0.05,
            }
            for e in epochs
        ]
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in metrics))
        reached = grok <= epochs[-1]
        (d / "summary.json").write_text(
            json.dumps(
                {
                    "status": "done",
                    "grok_epoch": grok if reached else None,
                    "memorization_epoch": 300,
                    "final": {k: v for k, v in metrics[-1].items() if k != "epoch"},
                }
            )
        )
    return sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=250)
    args = parser.parse_args()
    import grok
    from grok.report import find_runs, listing, report

    with tempfile.TemporaryDirectory() as tmp:
        sweep = make_sweep(Path(tmp), args.runs, args.rows)
        timings = {"baseline: json.loads of every file": lambda: read_raw(sweep)}
        timings["load the runs (find_runs)"] = lambda: find_runs(sweep)
        timings["grok.load_sweep (DataFrame)"] = lambda: grok.load_sweep(sweep)
        timings["grok.load_sweep_metrics (long)"] = lambda: grok.load_sweep_metrics(sweep)
        timings["grok ls"] = lambda: listing(sweep)
        timings["grok report --no-png"] = lambda: report(sweep, png=False)
        timings["grok report (HTML + PNG)"] = lambda: report(sweep, png=True)
        seconds = {}
        for name, step in timings.items():
            t0 = time.perf_counter()
            step()
            seconds[name] = time.perf_counter() - t0
    base = seconds["baseline: json.loads of every file"]
    print(f"{args.runs} runs x {args.rows} metric rows")
    print(f"{'step':40s} {'seconds':>8s} {'x baseline':>11s}")
    for name, sec in seconds.items():
        print(f"{name:40s} {sec:8.2f} {sec / base:11.1f}")


def read_raw(sweep: Path) -> int:
    """The floor: parse every summary and metrics line once, nothing else."""
    n = 0
    for d in sweep.iterdir():
        json.loads((d / "summary.json").read_text())
        n += sum(1 for line in (d / "metrics.jsonl").read_text().splitlines() if json.loads(line))
    return n


if __name__ == "__main__":
    main()

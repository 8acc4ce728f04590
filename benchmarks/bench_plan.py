"""How long planning a big sweep takes: grok's composer vs Hydra's per-job compose.

    python benchmarks/bench_plan.py [--jobs 10000] [--sample 100]

1. The whole dry run as users type it (``launch.py -m ... hydra.launcher.dry_run=true`` on
   ``experiment=nanda2023 hardware=bouchet``: 10 seeds x 10 wd x 10 lr x 10 train_frac),
   timed end to end in a subprocess.
2. In this process, per job: grok's composer (compose once per choice of groups, apply
   each job's overrides) against Hydra's per-job ``load_sweep_config`` (timed on
   ``--sample`` jobs), and the validation + packing that follow.

Ratios are against Hydra's per-job compose measured in this same run.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [f"model.seed={s}" for s in range(10)]
WDS = [f"optim.wd={w}" for w in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0)]
LRS = [f"optim.lr={x}" for x in (1e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2)]
FRACS = [f"task.train_frac={f}" for f in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)]


def grid(n: int) -> list[list[str]]:
    jobs = [["experiment=nanda2023", *c] for c in itertools.product(SEEDS, WDS, LRS, FRACS)]
    return jobs[:n]


def dry_run_seconds(n: int) -> tuple[float, str]:
    sweep = ["model.seed=range(10)", "optim.wd=" + ",".join(w.split("=")[1] for w in WDS)]
    sweep += ["optim.lr=" + ",".join(x.split("=")[1] for x in LRS)]
    sweep += ["task.train_frac=" + ",".join(f.split("=")[1] for f in FRACS)]
    args = ["-m", "experiment=nanda2023", "hardware=bouchet", *sweep, "hydra.launcher.dry_run=true"]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(ROOT / "launch.py"), *args],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - start
    return seconds, out.stdout.splitlines()[0]


def in_process(n: int, sample: int) -> dict[str, float]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from grok.config import problems_flat
    from grok.packing import make_packs
    from hydra_plugins.grok_launcher.preflight import Composer

    jobs = grid(n)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        master = compose("config", overrides=["hardware=bouchet"], return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        start = time.perf_counter()
        for overrides in jobs[:sample]:
            loader.load_sweep_config(master, overrides)
        hydra_per_job = (time.perf_counter() - start) / sample
        launcher = SimpleNamespace(
            hydra_context=SimpleNamespace(config_loader=loader), config=master
        )
        composer = Composer(launcher)
        start = time.perf_counter()
        planned = [composer.job(i, o) for i, o in enumerate(jobs)]
        ours_per_job = (time.perf_counter() - start) / n
        start = time.perf_counter()
        for job in planned:
            problems_flat(job.flat)
        check_per_job = (time.perf_counter() - start) / n
        start = time.perf_counter()
        make_packs([job.flat for job in planned], 256, 64 * 2**30)
        pack_per_job = (time.perf_counter() - start) / n
    return {
        "hydra": hydra_per_job,
        "ours": ours_per_job,
        "check": check_per_job,
        "pack": pack_per_job,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=100)
    args = parser.parse_args()
    t = in_process(args.jobs, args.sample)
    n = args.jobs
    print(f"planning {n} jobs (experiment=nanda2023 hardware=bouchet, 4 swept keys):")
    print(f"  Hydra per-job compose   {t['hydra'] * 1e3:8.3f} ms/job  -> {t['hydra'] * n:7.1f} s")
    ratio = t["ours"] / t["hydra"]
    ours = f"{t['ours'] * 1e3:8.3f} ms/job  -> {t['ours'] * n:7.1f} s"
    print(f"  grok composer           {ours}  ({ratio:.4f}x)")
    print(f"  + validation            {t['check'] * 1e3:8.3f} ms/job  -> {t['check'] * n:7.1f} s")
    print(f"  + packing               {t['pack'] * 1e3:8.3f} ms/job  -> {t['pack'] * n:7.1f} s")
    seconds, first = dry_run_seconds(n)
    print(f"end to end, `launch.py -m ... hydra.launcher.dry_run=true`: {seconds:.1f} s")
    print(f"  ({first}); Hydra's per-job compose alone would take ~{t['hydra'] * n:.0f} s")
    print(f"  ratio to per-job compose: {seconds / (t['hydra'] * n):.3f}x")


if __name__ == "__main__":
    main()

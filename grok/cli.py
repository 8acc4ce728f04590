"""The ``grok`` command: ``grok report PATH``, ``grok ls [PATH ...]``, ``grok measure PATH``
``grok import-pizza CONFIG WEIGHTS OUT`` and ``grok import-chughtai RUN_FOLDER OUT``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grok", description="Inspect grok runs and sweeps.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="figures (PNG) and one offline HTML for a run or sweep dir")
    rep.add_argument("path", type=Path)
    rep.add_argument("--out", type=Path, default=None, help="output dir (default: PATH/report)")
    rep.add_argument("--no-png", action="store_true", help="only the HTML (faster for huge sweeps)")
    rep.add_argument(
        "--color-by",
        metavar="KEY",
        default=None,
        help="sweep: the key that colours the curves (default: the first swept key that is not "
        "a seed; runs that differ only in model.seed / task.data_seed are pooled)",
    )
    rep.add_argument(
        "--x",
        metavar="KEY",
        default=None,
        help="sweep: the key on the milestones' x axis (default: one panel per non-seed key)",
    )
    ls = sub.add_parser("ls", help="runs with status, grok epoch and swept hyperparameters")
    ls.add_argument(
        "path",
        type=Path,
        nargs="*",
        help="run or sweep dirs (default: outputs/ and multirun/ here, those that exist)",
    )
    ls.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (markdown, default); csv or json for shell pipelines (jq, csvkit, pandas)",
    )
    mea = sub.add_parser(
        "measure",
        help="progress measures on every checkpoint of each modular run (Fourier, with the "
        "final model's key frequencies) or group run (irreps, with its key irreps); writes "
        "measures_posthoc.jsonl in each run dir",
    )
    mea.add_argument("path", type=Path, help="a run dir or a sweep dir")
    mea.add_argument(
        "--keys",
        default="final",
        help="final (default): the newest checkpoint's key frequencies, as Nanda et al.; "
        "online: each checkpoint's own; or a list such as 1,5,34",
    )
    mea.add_argument("--device", default="cpu", help="where to load the checkpoints (cpu, cuda)")
    imp = sub.add_parser(
        "import-pizza",
        help="one of Zhong et al. 2023's released models (fjzzq2002/pizza code/save) as a grok "
        "run dir: config.yaml, a checkpoint, a summary with status imported",
    )
    imp.add_argument("config", type=Path, help="their config_<id>.json")
    imp.add_argument("weights", type=Path, help="their model_<id>.pt")
    imp.add_argument("out", type=Path, help="the new run dir")
    chu = sub.add_parser(
        "import-chughtai",
        help="one of Chughtai et al. 2023's released transformers (rep-theory-mech-interp "
        "rep_theory/batch_experiments/<run>) as a grok run dir",
    )
    chu.add_argument("folder", type=Path, help="their run folder: cfg.json and model.pt")
    chu.add_argument("out", type=Path, help="the new run dir")
    args = parser.parse_args(argv)
    if args.command == "import-pizza":
        return _import("import-pizza", [args.config, args.weights], args.out)
    if args.command == "import-chughtai":
        files = [args.folder / "cfg.json", args.folder / "model.pt"]
        return _import("import-chughtai", files, args.out, folder=args.folder)
    paths = args.path if isinstance(args.path, list) else [args.path]
    if args.command == "ls" and not paths:
        # deferred: CLI start-up: each command imports what it needs
        from grok.report import DEFAULT_ROOTS

        paths = [p for p in DEFAULT_ROOTS if p.exists()]
        if not paths:
            print(
                "grok ls: no outputs/ or multirun/ here; give a run or sweep dir", file=sys.stderr
            )
            return 2
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"grok {args.command}: {missing[0]} does not exist", file=sys.stderr)
        return 2
    if args.command == "measure":
        return _measure(args.path, args.keys, args.device)

    # deferred: CLI start-up: each command imports what it needs
    from grok.report import listing, report

    if args.command == "ls":
        print(listing(paths, args.format), end="")
        return 0
    start = time.perf_counter()
    # deferred: CLI start-up: each command imports what it needs
    from grok.report.groups import UnknownKey

    try:
        files = report(args.path, args.out, not args.no_png, args.color_by, args.x)
    except UnknownKey as e:
        print(f"grok report: {e}", file=sys.stderr)
        return 2
    written = [str(p) for group in files.values() for p in group]
    print(f"grok report: {len(written)} files in {time.perf_counter() - start:.1f} s")
    for f in written:
        print(f"  {f}")
    return 0


def _measure(path: Path, keys: str, device: str) -> int:
    # deferred: CLI start-up: each command imports what it needs
    from grok.posthoc import BadKeys, KeySpec, measure
    from grok.store.lock import RunDirBusy

    start = time.perf_counter()
    try:
        works = measure(path, KeySpec.parse(keys), device=device)
    except (BadKeys, RunDirBusy, ValueError) as e:
        print(f"grok measure: {e}", file=sys.stderr)
        return 2
    if not works:
        print(
            f"grok measure: no modular or group run with checkpoints under {path}", file=sys.stderr
        )
        return 1
    done = sum(len(w.todo) for w in works)
    print(f"grok measure: {done} checkpoint(s) measured in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _import(command: str, files: list[Path], out: Path, folder: Path | None = None) -> int:
    # deferred: CLI start-up: each command imports what it needs
    from grok.errors import ConfigError
    from grok.released import import_chughtai, import_pizza

    missing = [p for p in files if not p.is_file()]
    if missing:
        print(f"grok {command}: {missing[0]} is not a file", file=sys.stderr)
        return 2
    try:
        if folder is not None:
            written = import_chughtai(folder, out)
        else:
            written = import_pizza(files[0], files[1], out)
    except (ConfigError, KeyError, ValueError) as e:
        print(f"grok {command}: {e}", file=sys.stderr)
        return 2
    print(f"grok {command}: {out} (weights: {written.name}); next: grok measure {out}")
    return 0

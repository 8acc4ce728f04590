"""The ``grok`` command: ``grok report PATH`` and ``grok ls PATH``."""

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
    ls = sub.add_parser("ls", help="runs with status, grok epoch and swept hyperparameters")
    ls.add_argument("path", type=Path)
    ls.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (markdown, default); csv or json for shell pipelines (jq, csvkit, pandas)",
    )
    args = parser.parse_args(argv)
    if not args.path.exists():
        print(f"grok {args.command}: {args.path} does not exist", file=sys.stderr)
        return 2

    from grok.report import listing, report

    if args.command == "ls":
        print(listing(args.path, args.format), end="")
        return 0
    start = time.perf_counter()
    files = report(args.path, args.out, png=not args.no_png)
    written = [str(p) for group in files.values() for p in group]
    print(f"grok report: {len(written)} files in {time.perf_counter() - start:.1f} s")
    for f in written:
        print(f"  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

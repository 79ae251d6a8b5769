"""Stage report: reports/results.md and reports/figures from the metrics files.

The metrics files it reads are those of hw2.pipeline.runs (the paths `dvc exp
show` keys its metrics by); dvc.yaml passes the outputs.

`--experiments` (run by `make report`, not by the stage) writes
reports/experiments.md from `dvc exp show` instead: that table depends on git and
experiment refs, which a stage cannot declare as deps.
"""

import argparse

from hw2.core.errors import run_stage
from hw2.pipeline.report import build_experiments_report, build_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="write reports/experiments.md from `dvc exp show` (not a stage output)",
    )
    parser.add_argument(
        "--rev",
        help="with --experiments: the commit whose experiments to list (default HEAD)",
    )
    parser.add_argument(
        "--out",
        help="the page to write (default reports/results.md, with --experiments "
        "reports/experiments.md)",
    )
    parser.add_argument(
        "--figures", default="reports/figures", help="folder of the report's PNGs"
    )
    args = parser.parse_args()
    if args.rev and not args.experiments:
        parser.error("--rev goes with --experiments")
    if args.experiments:
        out = args.out or "reports/experiments.md"
        page = build_experiments_report(out=out, rev=args.rev)
    else:
        page = build_report(out=args.out or "reports/results.md", figures=args.figures)
    print(f"report: wrote {page}")


if __name__ == "__main__":
    run_stage(main)

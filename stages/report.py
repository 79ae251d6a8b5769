"""Stage report: reports/results.md and reports/figures from the metrics files.

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
    args = parser.parse_args()
    if args.rev and not args.experiments:
        parser.error("--rev goes with --experiments")
    if args.experiments:
        page = build_experiments_report(rev=args.rev)
    else:
        page = build_report()
    print(f"report: wrote {page}")


if __name__ == "__main__":
    run_stage(main)

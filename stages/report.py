"""Stage report: reports/results.md and reports/figures from the metrics files.

`--experiments` (run by `make report`, not by the stage) writes
reports/experiments.md from `dvc exp show` instead: that table depends on git and
experiment refs, which a stage cannot declare as deps.
"""

import argparse

from hw2.errors import run_stage
from hw2.report import build_experiments_report, build_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="write reports/experiments.md from `dvc exp show` (not a stage output)",
    )
    args = parser.parse_args()
    page = build_experiments_report() if args.experiments else build_report()
    print(f"report: wrote {page}")


if __name__ == "__main__":
    run_stage(main)

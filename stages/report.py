"""Stage report: reports/results.md and reports/figures from the metrics files.

The metrics files it reads are those of hw2.pipeline.runs (the paths `dvc exp
show` keys its metrics by); dvc.yaml passes the outputs. reports/experiments.md
is scripts/experiments.py's (run by `make report`, not by the stage): that table
depends on git and experiment refs, which a stage cannot declare as deps.
"""

import argparse

from hw2.core.stage import Checked, run_stage
from hw2.pipeline.report import build_report


def main(checked: Checked) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/results.md", help="the page to write")
    parser.add_argument(
        "--figures", default="reports/figures", help="folder of the report's PNGs"
    )
    args = parser.parse_args()
    page = build_report(out=args.out, figures=args.figures)
    print(f"report: wrote {page}")


if __name__ == "__main__":
    run_stage(main)

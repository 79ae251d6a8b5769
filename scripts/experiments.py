"""Write reports/experiments.md: every DVC experiment of HEAD (or --rev), grouped
by what it varied, ASR seeds as one row, and the homework's answer.

python scripts/experiments.py [--rev <commit>] [--out reports/experiments.md]

Not a DVC stage: the page depends on git and experiment refs, which a stage
cannot declare (`make report` runs it after the report stage).
"""

import argparse

from hw2.core.stage import run_stage
from hw2.pipeline.experiments import build_experiments_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rev", help="the commit whose experiments to list (default HEAD)"
    )
    parser.add_argument(
        "--out", default="reports/experiments.md", help="the page to write"
    )
    args = parser.parse_args()
    page = build_experiments_report(out=args.out, rev=args.rev)
    print(f"report: wrote {page}")


if __name__ == "__main__":
    run_stage(main)

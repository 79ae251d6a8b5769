"""Queue and run the homework's experiment grid, then print the comparison table.

python scripts/homework.py [--jobs 2] [--source sample|full] [--seeds 3]

Also writes metrics/asr_seeds.json (the ASR's spread over seeds, which `make diff`
uses for the one-seed default run) and reports/experiments.md.
"""

import argparse

from hw2.core.stage import run_stage
from hw2.pipeline.homework import SEEDS, run_homework


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="parallel queue workers")
    ap.add_argument("--source", default="sample", choices=["sample", "full"])
    ap.add_argument(
        "--no-mclaurin",
        action="store_true",
        help="leave out the McLaurin ASR runs",
    )
    ap.add_argument(
        "--seeds",
        type=int,
        default=SEEDS,
        help=f"ASR seeds per configuration, from params.yaml's asr.seed (default "
        f"{SEEDS})",
    )
    args = ap.parse_args()
    print(
        run_homework(
            ".",
            jobs=args.jobs,
            source=args.source,
            mclaurin=not args.no_mclaurin,
            seeds=args.seeds,
        )
    )


if __name__ == "__main__":
    run_stage(main)

"""Queue and run the homework's experiment grid, then print the comparison table.

python scripts/homework.py [--jobs 2] [--source sample|full]
"""

import argparse

from hw2.core.errors import run_stage
from hw2.pipeline.homework import run_homework


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="parallel queue workers")
    ap.add_argument("--source", default="sample", choices=["sample", "full"])
    ap.add_argument(
        "--no-mclaurin",
        action="store_true",
        help="leave out the McLaurin ASR run",
    )
    args = ap.parse_args()
    print(
        run_homework(
            ".", jobs=args.jobs, source=args.source, mclaurin=not args.no_mclaurin
        )
    )


if __name__ == "__main__":
    run_stage(main)

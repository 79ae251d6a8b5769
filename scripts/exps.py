"""HEAD's experiments (or those of --rev) as one table that fits the terminal.

python scripts/exps.py [--rev main] [--width 120]

Run names and state, test accuracy, CER and WER, lr and decoder, and the other
params where the runs differ (hw2.pipeline.exps). `dvc exp show` shows everything.
"""

import argparse

from hw2.core.stage import run_stage
from hw2.pipeline.exps import show


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", help="the commit whose experiments to list (HEAD)")
    ap.add_argument("--width", type=int, help="columns (the terminal's width)")
    args = ap.parse_args()
    print(show(".", args.rev, args.width))


if __name__ == "__main__":
    run_stage(main)

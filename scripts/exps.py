"""HEAD's experiments (or those of --rev) as one table that fits the terminal.

python scripts/exps.py [--rev main] [--width 120]

Run names and state, test accuracy, CER and WER, lr and decoder, and the other
params where the runs differ (hw2.pipeline.exps). `dvc exp show` shows everything.
"""

import argparse
import shutil

from hw2.core.stage import run_stage
from hw2.pipeline.exps import table
from hw2.pipeline.runs import exp_frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", help="the commit whose experiments to list (HEAD)")
    ap.add_argument("--width", type=int, help="columns (the terminal's width)")
    args = ap.parse_args()
    width = args.width or shutil.get_terminal_size((120, 24)).columns
    print(table(exp_frame(".", args.rev), width))


if __name__ == "__main__":
    run_stage(main)

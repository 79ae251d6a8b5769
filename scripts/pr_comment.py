"""Compare the workspace with a base revision: the pull-request comment.

    python scripts/pr_comment.py --base main    # print it (what `make diff` runs)
    python scripts/pr_comment.py --base main --out comment.md --plots-dir pr-plots

Run it after `dvc repro` from the repository root. It is Markdown, whose pictures
of the changed plots `--plots-dir` draws (CI posts the file with `cml comment
update`, which uploads them); printed to a terminal, rich renders it. It writes
only --out and --plots-dir.
"""

import argparse
import os
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown

from hw2.core.io import write_text
from hw2.core.stage import run_stage
from hw2.pipeline.pr_comment import build_comment

# rich leaves out HTML: the folded table's summary stays, as a line of its own
FOLD = re.compile(r"</?details>(?:<summary>(.*)</summary>)?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="revision to compare with")
    parser.add_argument("--out", default="-", help="file to write (default: print it)")
    parser.add_argument(
        "--plots-dir",
        help="folder for PNGs of the changed plots, base vs workspace (default: none)",
    )
    args = parser.parse_args()
    link_dir = Path.cwd() if args.out == "-" else Path(os.path.abspath(args.out)).parent
    text = build_comment(base=args.base, plots_dir=args.plots_dir, link_dir=link_dir)
    if args.out != "-":
        write_text(args.out, text)
        print(f"pr_comment: wrote {args.out}")
    elif sys.stdout.isatty():
        Console().print(Markdown(FOLD.sub(lambda m: f"{m[1]}:" if m[1] else "", text)))
    else:
        print(text, end="")


if __name__ == "__main__":
    run_stage(main)

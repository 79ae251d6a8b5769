"""Compare the workspace with a base revision: the pull-request comment.

    python scripts/pr_comment.py --base main    # print it (what `make diff` runs)
    python scripts/pr_comment.py --base main --out comment.md --plots-dir pr-plots

Run it after `dvc repro` from the repository root. Printed to a terminal it is
plain text; to a file or a pipe it is the comment's Markdown (`--format` picks
one), whose pictures of the changed plots `--plots-dir` draws (CI posts the file
with `cml comment update`, which uploads them). It writes only --out and
--plots-dir.
"""

import argparse
import os
import sys
from pathlib import Path

from hw2.core.io import write_text
from hw2.core.stage import run_stage
from hw2.pipeline.pr_comment import build_comment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="revision to compare with")
    parser.add_argument("--out", default="-", help="file to write (default: print it)")
    parser.add_argument(
        "--plots-dir",
        help="folder for PNGs of the changed plots, base vs workspace (default: none)",
    )
    parser.add_argument(
        "--format",
        choices=["auto", "markdown", "text"],
        default="auto",
        help="auto (default): text on a terminal, else Markdown",
    )
    args = parser.parse_args()
    fmt = args.format
    if fmt == "auto":
        fmt = "text" if args.out == "-" and sys.stdout.isatty() else "markdown"
    link_dir = Path.cwd() if args.out == "-" else Path(os.path.abspath(args.out)).parent
    text = build_comment(
        base=args.base, plots_dir=args.plots_dir, link_dir=link_dir, fmt=fmt
    )
    if args.out == "-":
        print(text, end="")
    else:
        write_text(args.out, text)
        print(f"pr_comment: wrote {args.out}")


if __name__ == "__main__":
    run_stage(main)

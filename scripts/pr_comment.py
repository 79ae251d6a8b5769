"""Compare the workspace with a base revision: the pull-request comment's Markdown.

    python scripts/pr_comment.py --base main    # print it (what `make diff` runs)
    python scripts/pr_comment.py --base origin/main --out comment.md --plots-dir p

Run it after `dvc repro` from the repository root; CI posts the file with `gh`.
It writes only --out and --plots-dir.
"""

import argparse

from hw2.core.errors import run_stage
from hw2.core.io import write_text
from hw2.pipeline.pr_comment import actions_run_url, build_comment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="revision to compare with")
    parser.add_argument(
        "--out", default="-", help="Markdown file to write (default: print it)"
    )
    parser.add_argument(
        "--plots-dir",
        help="folder for PNGs of the changed curves, base vs workspace (default: none)",
    )
    parser.add_argument(
        "--artifact-url",
        default=actions_run_url(),
        help="where the PNGs can be seen (default: the GitHub Actions run, in CI)",
    )
    args = parser.parse_args()
    text = build_comment(
        base=args.base, plots_dir=args.plots_dir, artifact_url=args.artifact_url
    )
    if args.out == "-":
        print(text, end="")
    else:
        write_text(args.out, text)
        print(f"pr_comment: wrote {args.out}")


if __name__ == "__main__":
    run_stage(main)

"""Write the pull-request comment: metrics, params and plots against a base revision.

    python scripts/pr_comment.py --base origin/main --out comment.md

Run it after `dvc repro` from the repository root; CI posts the file with `gh`.
"""

import argparse

from hw2.core.errors import run_stage
from hw2.pipeline.pr_comment import actions_run_url, write_comment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="revision to compare with")
    parser.add_argument("--out", default="comment.md", help="Markdown file to write")
    parser.add_argument(
        "--plots-dir",
        default="pr-plots",
        help="folder for PNGs of the changed curves, base vs workspace",
    )
    parser.add_argument(
        "--artifact-url",
        default=actions_run_url(),
        help="where the PNGs can be seen (default: the GitHub Actions run, in CI)",
    )
    parser.add_argument(
        "--all-metrics", action="store_true", help="list unchanged metrics too"
    )
    args = parser.parse_args()
    out = write_comment(
        args.out,
        base=args.base,
        plots_dir=args.plots_dir,
        artifact_url=args.artifact_url,
        all_metrics=args.all_metrics,
    )
    print(f"pr_comment: wrote {out}")


if __name__ == "__main__":
    run_stage(main)

"""The README's results table, from params.yaml and metrics/ (hw2.pipeline.summary).

    python scripts/readme_results.py           # print it
    python scripts/readme_results.py --write   # put it in README.md

Run it after `dvc repro` and commit README.md with the metrics: tests/test_readme.py
fails while the README's table is not the committed metrics' one.
"""

import argparse
from pathlib import Path

from hw2.core.io import write_text
from hw2.core.stage import run_stage
from hw2.pipeline.summary import replace_block, results_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="replace the table in README.md"
    )
    args = parser.parse_args()
    table = results_table(".")
    if not args.write:
        print(table)
        return
    readme = Path("README.md")
    write_text(readme, replace_block(readme.read_text(), table))
    print("readme_results: README.md's results table written")


if __name__ == "__main__":
    run_stage(main)

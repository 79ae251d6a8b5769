"""DVC's plots page of the workspace against revisions, safe for any branch name.

    python scripts/plots.py main [other revs]   # writes dvc_plots/index.html

`dvc plots diff` itself, then the page's embedded specs escaped (see
hw2.pipeline.dvc.safe_page): a ref named `x</script><script>...` stays text.
"""

import argparse
from pathlib import Path

from hw2.core.stage import run_stage
from hw2.pipeline.dvc import run, safe_page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="*", help="revisions (default: HEAD)")
    parser.add_argument("-o", "--out", default="dvc_plots", help="output folder")
    args = parser.parse_args()
    run(["dvc", "plots", "diff", *args.revs, "-o", args.out], ".")
    page = Path(args.out, "index.html")
    page.write_text(safe_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {page}")


if __name__ == "__main__":
    run_stage(main)

"""Rebuild plots/offline.html (DVC's plots page, Vega inlined) from npm.

python scripts/plots_template.py [--package-json plots/package.json]
    [--out plots/offline.html]

Fetches the exact versions plots/package.json pins with `npm pack`.
"""

import argparse

from hw2.core.stage import run_stage
from hw2.pipeline.vega_template import refresh_template


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package-json", default="plots/package.json")
    ap.add_argument("--out", default="plots/offline.html")
    args = ap.parse_args()
    print(f"wrote {refresh_template(args.package_json, args.out)}")


if __name__ == "__main__":
    run_stage(main)

"""Command lines of the stage scripts: dvc.yaml passes every path a stage reads or
writes, so that dvc.yaml is the one place where paths live."""

import argparse
from pathlib import Path


def stage_paths(doc: str | None, *names: str) -> argparse.Namespace:
    """Parse `--name PATH` for each name (all required); attributes use underscores."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    for name in names:
        parser.add_argument(f"--{name}", type=Path, required=True, metavar="PATH")
    return parser.parse_args()

"""The guards `make repro` puts around `dvc repro` (docs/reliability.md).

    python scripts/repro_guard.py before   # params.yaml readable: UTF-8, no aliases;
                                           # a cut-short .dvc/tmp/rwlock removed
    python scripts/repro_guard.py after    # outputs in DVC's cache and matching
                                           # dvc.lock's md5; leftovers removed

Why each: docs/reliability.md's table of DVC's own behaviour and its guards.
"""

import argparse
from pathlib import Path

from hw2.core.params import load_params
from hw2.core.stage import run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("when", choices=["before", "after"])
    parser.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args()
    from hw2.pipeline.aftercare import broken_rwlock, check

    if args.when == "before":
        load_params(args.root / "params.yaml")
        if line := broken_rwlock(args.root):
            print(line)
        return

    for line in check(args.root):
        print(line)


if __name__ == "__main__":
    run_stage(main)

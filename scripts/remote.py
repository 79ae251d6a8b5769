"""The team's DVC remote: check it, push to it, pull from it; failures in one line.

    python scripts/remote.py check [-r NAME]   # reachable, bucket there, credentials ok
    python scripts/remote.py push  [-r NAME]   # dvc push
    python scripts/remote.py pull  [-r NAME]   # dvc pull (add --allow-missing etc.)

Without -r the default remote (`dvc remote add -d`) is used. Exit 2 with
`error: remote 'NAME' (URL): CAUSE` when the remote is unusable.
"""

import argparse
from pathlib import Path

from hw2.core.stage import run_stage
from hw2.pipeline.remote import check, transfer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["check", "push", "pull", "fetch"])
    parser.add_argument("-r", "--remote", help="remote name (default: the default)")
    parser.add_argument("--root", default=".", help="repository root")
    args, extra = parser.parse_known_args()
    root = Path(args.root)
    if args.action == "check":
        print(check(root, args.remote))
    else:
        out = transfer(root, args.action, args.remote, *extra)
        if out:
            print(out)


if __name__ == "__main__":
    run_stage(main)

"""Stage preflight: params.yaml, output folders, disk, memory and network checked
before DVC deletes any output. Every stage depends on the --stamp it writes, whose
bytes never change (see hw2.pipeline.preflight)."""

from pathlib import Path

from hw2.core.cli import stage_paths
from hw2.core.io import write_text
from hw2.core.params import load_params
from hw2.core.stage import run_stage
from hw2.pipeline.preflight import STAMP, run


def main() -> None:
    args = stage_paths(__doc__, "stamp")
    for line in run(Path("."), load_params()):
        print(line)
    if not args.stamp.is_file() or args.stamp.read_text() != STAMP:
        write_text(args.stamp, STAMP)


if __name__ == "__main__":
    run_stage(main)

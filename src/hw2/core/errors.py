"""One error type for every problem a user can fix, and the stage entry point."""

import sys
from collections.abc import Callable


class Hw2Error(Exception):
    """A problem with params, input files or downloads, told in one line."""


class ParamError(Hw2Error):
    """A params.yaml value that is missing or not allowed."""


class DataError(Hw2Error):
    """An input file that is missing, malformed or fails its checksum."""


class NonFiniteLossError(Hw2Error):
    """A training loss became NaN or infinite (both the CNN and the ASR raise it)."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); a user-fixable problem exits 2 with one line."""
    try:
        main()
    except Hw2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

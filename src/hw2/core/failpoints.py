"""Named points where a test can kill the running stage, as a crash would.

HW2_FAILPOINT=<name>:<n> makes the process SIGKILL itself the n-th time it passes
the point <name> (no cleanup runs: no finally, no atexit), so tests can check that
every stage recovers from a kill at a known place; <name> alone means the first
time. Unset, a point costs one string comparison. The points: download (a chunk
written to the .part file), extract (an archive member extracted), preprocess (a
clip's features computed), train_step (an optimizer step), train_epoch (an epoch's
checkpoint saved). A value naming no point, or a count that is not a positive
integer, is refused when a stage starts (check_env), never ignored.
"""

import os
import signal

from hw2.core.errors import Hw2Error

ENV = "HW2_FAILPOINT"
POINTS = ("download", "extract", "preprocess", "train_step", "train_epoch")
_name, _, _count = os.environ.get(ENV, "").partition(":")
_limit = int(_count) if _count.isdigit() else 1
_hits = 0


def check_env(value: str | None = None) -> None:
    """Raise Hw2Error (one line) unless HW2_FAILPOINT (or `value`) is unset,
    empty, or <point>[:<positive count>]."""
    value = os.environ.get(ENV, "") if value is None else value
    if not value:
        return
    name, colon, count = value.partition(":")
    if name not in POINTS or (
        colon and not (count.isdigit() and count.isascii() and int(count) >= 1)
    ):
        raise Hw2Error(
            f"{ENV}={value[:60]!r}: expected POINT or POINT:COUNT, POINT one of "
            f"{', '.join(POINTS)} and COUNT a positive integer"
        )


def failpoint(name: str) -> None:
    """Die here by SIGKILL if HW2_FAILPOINT names this point and its count is up."""
    global _hits
    if name != _name:
        return
    _hits += 1
    if _hits >= _limit:
        os.kill(os.getpid(), signal.SIGKILL)

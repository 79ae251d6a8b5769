"""Named points where a test can kill the running stage, as a crash would.

HW2_FAILPOINT=<name>:<n> makes the process SIGKILL itself the n-th time it passes
the point <name> (no cleanup runs: no finally, no atexit), so tests can check that
every stage recovers from a kill at a known place. Unset, a point costs one string
comparison. The points: download (a chunk written to the .part file), extract (an
archive member extracted), preprocess (a clip's features computed), train_step (an
optimizer step), train_epoch (an epoch's checkpoint saved).
"""

import os
import signal

ENV = "HW2_FAILPOINT"
_name, _, _count = os.environ.get(ENV, "").partition(":")
_limit = int(_count) if _count.isdigit() else 1
_hits = 0


def failpoint(name: str) -> None:
    """Die here by SIGKILL if HW2_FAILPOINT names this point and its count is up."""
    global _hits
    if name != _name:
        return
    _hits += 1
    if _hits >= _limit:
        os.kill(os.getpid(), signal.SIGKILL)

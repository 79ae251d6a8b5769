"""The homework-2 studies: McLaurin linear attention, a CNN on retina OCT, ASR."""

import os as _os
import sys as _sys
import tempfile as _tempfile

__version__ = "0.1.0"

# Libraries' own caches go to one folder in the system temp, not the home folder
# (torch inductor's kernels, triton's): a
# user's settings win, and a stage never writes outside the project and the temp.
_CACHE = _os.path.join(
    _tempfile.gettempdir(), f"hw2-cache-{getattr(_os, 'getuid', lambda: 0)()}"
)
for _name, _sub in (
    ("TORCHINDUCTOR_CACHE_DIR", "torchinductor"),
    ("TRITON_CACHE_DIR", "triton"),
):
    _os.environ.setdefault(_name, _os.path.join(_CACHE, _sub))


# Under `ulimit -v`, `import torch` can fail before a stage's own error handling
# starts (hw2 is imported first): an uncaught MemoryError or a library that could
# not be mapped ends in one line naming the limit, not a traceback.
def _excepthook(kind, exc, tb, _previous=_sys.excepthook):
    try:
        from hw2.core.resources import address_space_failure

        line = address_space_failure(exc)
    except Exception:  # explaining must never hide the original error
        line = None
    if line is None:
        _previous(kind, exc, tb)
    else:
        print(f"error: {line}", file=_sys.stderr)


_sys.excepthook = _excepthook

"""The homework-2 studies: McLaurin linear attention, a CNN on retina OCT, ASR."""

import os as _os
import tempfile as _tempfile

__version__ = "0.1.0"

# Libraries' own caches go to one folder in the system temp, not the home folder
# (matplotlib's font cache and config, torch inductor's kernels, triton's): a
# user's settings win, and a stage never writes outside the project and the temp.
_CACHE = _os.path.join(
    _tempfile.gettempdir(), f"hw2-cache-{getattr(_os, 'getuid', lambda: 0)()}"
)
for _name, _sub in (
    ("MPLCONFIGDIR", "matplotlib"),
    ("TORCHINDUCTOR_CACHE_DIR", "torchinductor"),
    ("TRITON_CACHE_DIR", "triton"),
):
    _os.environ.setdefault(_name, _os.path.join(_CACHE, _sub))

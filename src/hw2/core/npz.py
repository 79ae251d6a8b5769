"""An .npz's arrays checked from their headers before numpy allocates them.

np.load allocates the shape an array's header claims before it reads a byte of
data: a few kilobytes claiming (10^8, 28, 28) ask for 73 GiB. Each member's claim
is held against what the zip says the member holds (and DEFLATE's largest
ratio, so a forged size cannot vouch for it), and all claims together against
the memory available, before anything is loaded.
"""

import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from hw2.core.errors import DataError
from hw2.core.params import short
from hw2.core.resources import human, need_memory

# DEFLATE expands at most 1032:1; other zip methods less.
MAX_RATIO = 1100


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple, Any, int]:
    """(shape, dtype, header length) from a member's .npy header alone."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        return shape, dtype, f.tell()


def check(path: str | Path) -> None:
    """Refuse an npz whose headers lie about their sizes (claim more than their
    member holds), or whose arrays need more memory than is available (one line
    naming the file)."""
    path = Path(path)
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[: -len(".npy")]
                try:
                    shape, dtype, header = _header(zf, info)
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    raise DataError(
                        f"{path}: {short(key)} is corrupted ({exc}); download it again"
                    ) from None
                claim = math.prod(shape) * dtype.itemsize
                holds = min(info.file_size, MAX_RATIO * info.compress_size + 1024)
                if claim > max(holds - header, 0):
                    raise DataError(
                        f"{path}: {short(key)} claims shape {short(tuple(shape))} "
                        f"({human(claim)}) but holds {human(max(holds - header, 0))}: "
                        "a damaged or forged file (download or generate it again)"
                    )
                total += claim
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable npz file ({exc})") from None
    except ValueError as exc:  # a malformed .npy header
        raise DataError(f"{path}: an array header is malformed ({exc})") from None
    need_memory(total, f"{path} (its arrays)")

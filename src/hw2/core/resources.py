"""The machine's side of a stage: free disk space and memory, checked before a
stage writes or allocates, and one line for a write that failed anyway (a full
disk, a read-only file system, a folder without permission).

Disks are named by their mount point and source as the mount table lists
them (`/data (/dev/sdb1)`), so a user knows which one to free.
"""

import errno
import os
import resource
from pathlib import Path

import psutil

from hw2.core.errors import ResourceError

# A filesystem with less than this free is called full: writers fail a little
# before the last byte (blocks, metadata, a reserve only root may use).
NEARLY_FULL = 1 << 20


def human(n: float) -> str:
    """Bytes in binary units: 1.9 GiB, 340 KiB, 12 B."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _existing(path: str | Path) -> Path:
    """`path`, or its nearest ancestor that exists (what is about to be written)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_of(path: str | Path) -> str:
    """The mounted filesystem holding `path` (or what `path` would be created on),
    as its mount point and source: `/data (/dev/sdb1)`."""
    target = str(_existing(path).resolve())
    mount, source = "/", "?"
    for part in psutil.disk_partitions(all=True):
        inside = target == part.mountpoint or target.startswith(
            part.mountpoint.rstrip("/") + "/"
        )
        if inside and len(part.mountpoint) >= len(mount):
            # psutil gives the source "none" (tmpfs, overlay) as ""
            mount, source = part.mountpoint, part.device or "none"
    return f"{mount} ({source})"


def free_bytes(path: str | Path) -> int:
    """Bytes this process may still write on the filesystem holding `path`."""
    st = os.statvfs(_existing(path))
    # root may use the blocks reserved for it; others see f_bavail
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def read_only(path: str | Path) -> bool:
    """True when the filesystem holding `path` is mounted read-only."""
    return bool(os.statvfs(_existing(path)).f_flag & os.ST_RDONLY)


def need_space(path: str | Path, nbytes: int, what: str) -> None:
    """ResourceError unless the filesystem of `path` has `nbytes` free."""
    free = free_bytes(path)
    if nbytes > free:
        raise ResourceError(
            f"{what} needs about {human(nbytes)} on {disk_of(path)}, which has "
            f"{human(free)} free"
        )


def _cgroup_memory() -> int | None:
    """What the cgroup (v2) still allows this process, where a limit is set."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        used = int((root / "memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def address_space_limit() -> int | None:
    """The process's address-space limit in bytes (`ulimit -v`), None if unset."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def _address_space_left() -> int | None:
    """What `ulimit -v` still allows this process to map, where one is set."""
    limit = address_space_limit()
    if limit is None:
        return None
    return max(limit - psutil.Process().memory_info().vms, 0)


def _limit_shown(limit: int) -> str:
    return f"the address-space limit of {human(limit)} (ulimit -v {limit // 1024})"


def available_memory() -> int:
    """Bytes of memory a new allocation can get without swapping (MemAvailable,
    or the cgroup's remaining limit or what `ulimit -v` leaves, when lower)."""
    available = psutil.virtual_memory().available
    limits = [n for n in (_cgroup_memory(), _address_space_left()) if n is not None]
    return min([available, *limits])


def need_memory(nbytes: int, what: str) -> None:
    """ResourceError unless about `nbytes` of memory are available."""
    available = available_memory()
    if nbytes > available:
        left = _address_space_left()
        under = (
            f" under {_limit_shown(address_space_limit())}"
            if left is not None and left <= available
            else ""
        )
        raise ResourceError(
            f"{what} needs at least {human(nbytes)} of memory, {human(available)} "
            f"available{under}"
        )


def address_space_failure(exc: BaseException) -> str | None:
    """One line for a MemoryError, or a library that failed to load (torch's
    "failed to map segment"), that `ulimit -v` explains; None otherwise."""
    limit = address_space_limit()
    text = " ".join(str(exc).split())
    mapping = isinstance(exc, ImportError | OSError) and (
        "failed to map segment" in text or "cannot allocate memory" in text.lower()
    )
    if limit is None or not (isinstance(exc, MemoryError) or mapping):
        return None
    return (
        f"{type(exc).__name__}{': ' if text else ''}{text[:100]} under "
        f"{_limit_shown(limit)}: raise or lift it (ulimit -v unlimited)"
    )


def _folder(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _shown(path: Path) -> str:
    """`path` relative to the working directory (the project) when inside it."""
    try:
        return str(Path(os.path.abspath(path)).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def write_failure(
    exc: BaseException, paths: list[Path], need: int | None = None
) -> str | None:
    """One line for `exc` where a full disk, a read-only file system or a missing
    permission explains it; None where none does.

    `paths` are those the stage was given: a library that reports a failed write
    without its errno (libsndfile's "System error", torch's "file write
    failed") is explained by one of them sitting on a full disk.
    `need` is about what the stage writes in all, named in the disk-full line.
    """
    needed = f"; the stage writes about {human(need)}" if need else ""
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    where = Path(exc.filename) if isinstance(exc, OSError) and exc.filename else None
    if code in (errno.ENOSPC, errno.EDQUOT):
        # numpy and others raise it without a file name: the fullest disk it is
        at = where or min(paths or [Path(".")], key=free_bytes)
        return (
            f"no space left on {disk_of(at)} writing {_shown(at)} "
            f"({human(free_bytes(at))} free{needed})"
        )
    if code == errno.EROFS:
        at = _folder(where) if where else Path(".")
        return (
            f"{_shown(at)}: read-only file system ({disk_of(at)}); the stage writes "
            "there"
        )
    if code in (errno.EACCES, errno.EPERM) and where is not None:
        return f"{_shown(where)}: permission denied (the stage writes there)"
    if isinstance(exc, OSError) and code is not None:
        return None  # another OSError: its own message says more
    name = f"{type(exc).__name__}: {' '.join(str(exc).split())[:100]}"
    for path in paths:
        if "read-only file system" in name.lower() and read_only(path):
            return (
                f"{_shown(_folder(path))}: read-only file system ({disk_of(path)}) "
                f"({name})"
            )
        if free_bytes(path) < NEARLY_FULL:
            return (
                f"no space left on {disk_of(path)} writing {_shown(path)} "
                f"({human(free_bytes(path))} free{needed}) ({name})"
            )
    return None

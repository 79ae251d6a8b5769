"""Atomic writes: a killed stage leaves the old file or none, never half a file.

Temporary entries are named `.<name>.<pid>.<random><suffix>` beside their target;
the next writer of the same target removes those whose process is gone, so a
killed run leaves nothing behind for long, and a concurrent writer's are kept.
"""

import glob
import json
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hw2.core import lifecycle
from hw2.core.errors import DataError

# mkstemp/mkdtemp create private (0600/0700) entries; give the final ones the
# permissions an ordinary open() or mkdir() would. (umask can only be read by
# setting it: set 0, then the old mask back.)
os.umask(_UMASK := os.umask(0))
_FILE_MODE = 0o666 & ~_UMASK
_DIR_MODE = 0o777 & ~_UMASK


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # someone else's process (or a number no pid can be)
    return True


def _remove_if_gone(entry: Path, pid: str) -> bool:
    """Delete a temporary entry unless process `pid` (its writer) still runs."""
    if _alive(int(pid)):
        return False
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)
    return True


def remove_leftovers(path: str | Path, suffix: str) -> list[Path]:
    """Delete `.<name>.<pid>.*<suffix>` entries beside `path` whose pid is gone.

    Only this target's own temporary names are considered, and an entry of a
    process still running (another stage writing the same target) is kept.
    Returns what was removed.
    """
    path = Path(path)
    name, tail = re.escape(path.name), re.escape(suffix)
    # tempfile's random part: 8 characters of [a-z0-9_]; another target's entry
    # may share the glob's prefix, never the whole name
    ours = re.compile(rf"\.{name}\.(\d+)\.[a-z0-9_]{{8}}{tail}")
    entries = path.parent.glob(glob.escape(f".{path.name}.") + "*")
    return [
        entry
        for entry in entries
        if (match := ours.fullmatch(entry.name)) and _remove_if_gone(entry, match[1])
    ]


def scratch_dir(path: str | Path, suffix: str) -> Path:
    """A new private folder `.<name>.<pid>.*<suffix>` beside `path`, after
    removing the leftovers of killed runs; the caller deletes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path, suffix)
    return Path(
        tempfile.mkdtemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=suffix, dir=path.parent
        )
    )


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path, ".tmp")
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it replaces `path` on success."""
    path = Path(path)
    # A kill between the two renames below leaves the previous output aside.
    remove_leftovers(path, ".old")
    tmp = scratch_dir(path, ".tmp")
    try:
        yield tmp
        os.chmod(tmp, _DIR_MODE)
        if path.exists():
            # renamed onto an empty folder of our own (POSIX allows it), so that
            # the name carries our pid like every other temporary entry
            old = scratch_dir(path, ".old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_torch(path: str | Path, obj: Any) -> None:
    """torch.save `obj` atomically; the same object always gives the same bytes."""
    import torch

    # Given a path, torch.save names the zip archive's top folder after the file,
    # here a random temporary name, so identical runs would write different bytes
    # (and dvc.lock hashes). Given an open file it uses the fixed name "archive".
    # A stop waits for the rename: the archive is whole, and so is a checkpoint.
    with lifecycle.held(), atomic_path(path) as tmp, tmp.open("wb") as f:
        torch.save(obj, f)


def load_torch(path: str | Path, *, made_by: str, map_location: Any = "cpu") -> Any:
    """torch.load with weights_only=True; any unreadable file is a one-line
    DataError naming it (never torch's advice to load it unsafely)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (run {made_by})")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (run {made_by} again)")
    if bad := _bad_zip_member(path):
        raise DataError(
            f"{path}: corrupted: {bad} (the file changed after it was written; "
            f"run {made_by} again)"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch names an "Unsupported global" when the pickle is sound but
        # names something besides tensors and plain data (and suggests loading
        # it unsafely, which is not repeated here); garbage fails otherwise
        if "unsupported global" in str(exc).lower():
            raise DataError(
                f"{path}: holds objects other than tensors and plain data; refused "
                f"(safe loading only: run {made_by} again)"
            ) from None
        raise DataError(
            f"{path}: not a file saved by {made_by} (UnpicklingError)"
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as exc:
        raise DataError(
            f"{path}: not a file saved by {made_by} ({type(exc).__name__})"
        ) from None


def _bad_zip_member(path: Path) -> str | None:
    """What fails the CRC check of torch.save's zip archive: torch.load never
    checks it, so a flipped bit in a tensor loads as a wrong number. None for a
    sound archive or a file that is no zip (torch.load judges that)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as exc:
        return None if "not a zip file" in str(exc) else f"its zip directory ({exc})"
    return bad and f"{bad} fails its zip CRC check"


# Every temporary entry this module makes: `.<name>.<pid>.<8 random><suffix>`.
_TEMPORARY = re.compile(r"\..+\.(\d+)\.[a-z0-9_]{8}(\.tmp|\.old|\.extract)")


def sweep_leftovers(*roots: str | Path) -> list[Path]:
    """Remove the temporary entries of writers that are gone, anywhere under
    `roots` (a killed stage's half-written features, say). The next writer of a
    target removes its own; this also reaches those whose target DVC restores
    from its cache, where no stage runs. Returns what was removed."""
    removed = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                match = _TEMPORARY.fullmatch(name)
                if match and _remove_if_gone(Path(folder) / name, match[1]):
                    removed.append(Path(folder) / name)
            dirs[:] = [d for d in dirs if not _TEMPORARY.fullmatch(d)]
    return removed

"""Safe tar extraction: every member is checked before it is written.

A member is refused (DataError naming it) if it could land outside the target: an
absolute path, a '..' component, a link pointing outside, or anything but a regular
file, folder or link (devices, FIFOs). tarfile's "data" filter checks again while
extracting (it resolves real paths, so chains of links are caught too).

Members go to a temporary folder beside the target, which replaces the target only
when the whole archive extracted and passed its check; on any error the temporary
folder is deleted, so a bad member anywhere leaves nothing behind. The archive is
read once, as a stream: listing its members first would mean decompressing the
2.6 GB LJ Speech archive twice (bz2 decompresses at some 7-20 MB/s).
"""

import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from tqdm.utils import CallbackIOWrapper

from hw2.core.errors import DataError
from hw2.core.failpoints import failpoint
from hw2.core.io import atomic_dir, scratch_dir
from hw2.core.params import short
from hw2.core.progress import byte_bar


def _absolute(path: str) -> bool:
    """A POSIX or Windows absolute path ('/x', '\\x', 'C:x')."""
    return path.startswith(("/", "\\")) or (
        len(path) > 1 and path[0].isalpha() and path[1] == ":"
    )


def _inside(path: str) -> bool:
    """Whether a normalised relative POSIX path stays inside its root."""
    return path != ".." and not path.startswith("../")


def check_member(member: tarfile.TarInfo, archive: str = "archive") -> None:
    """Raise DataError if `member` could write outside the extraction folder."""
    name = member.name
    where = f"{archive}: member {short(name)}"
    if not name or _absolute(name):
        raise DataError(f"{where} has an absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise DataError(f"{where} has a '..' component")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise DataError(f"{where} is a device, FIFO or other special file")
    if member.issym() or member.islnk():
        target = member.linkname
        if not target or _absolute(target):
            raise DataError(f"{where} links to an absolute path {short(target)}")
        # symlinks resolve from the member's folder, hard links from the root
        base = posixpath.dirname(name) if member.issym() else ""
        if not _inside(posixpath.normpath(posixpath.join(base, target))):
            raise DataError(f"{where} links outside the archive ({short(target)})")


def safe_extract(
    archive: str | Path,
    dest: str | Path,
    *,
    root: str | None = None,
    check: Callable[[Path], None] | None = None,
    progress: bool = True,
) -> Path:
    """Extract `archive` (any tar, compressed or not) so that it becomes `dest`.

    root: a folder inside the archive (e.g. 'LJSpeech-1.1') whose contents become
    `dest`; check: called on the extracted folder before it is moved into place.
    Returns dest. On any error `dest` is left as it was.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise DataError(f"{archive}: file not found")
    work = scratch_dir(dest, ".extract")
    try:
        with (
            archive.open("rb") as raw,
            byte_bar(
                desc=f"extracting {archive.name}",
                total=archive.stat().st_size,
                disable=not progress,
            ) as bar,
        ):
            member = None
            try:
                stream = CallbackIOWrapper(bar.update, raw, "read")
                with tarfile.open(fileobj=stream, mode="r|*") as tar:
                    # 2: a member that could not be made (a symlink whose target
                    # is too long) is an error, not a debug message and a gap
                    tar.errorlevel = 2
                    for n, member in enumerate(tar, start=1):
                        check_member(member, archive.name)
                        tar.extract(member, work, filter="data")
                        failpoint("extract")
                        bar.set_postfix(members=n, refresh=False)
            except tarfile.FilterError as exc:
                name = exc.tarinfo.name
                why = str(exc).replace(repr(name), short(name))
                raise DataError(f"{archive}: unsafe member refused ({why})") from None
            except KeyError:
                # tarfile's "linkname ... not found": a streamed hard link can
                # only point at a member that came before it
                raise DataError(
                    f"{archive}: member {short(member.name)} is a hard link to "
                    f"{short(member.linkname)}, which the archive does not hold "
                    "before it"
                ) from None
            except tarfile.ExtractError as exc:
                raise DataError(
                    f"{archive}: member {short(member.name)} could not be "
                    f"extracted ({exc})"
                ) from None
            except (tarfile.TarError, EOFError) as exc:
                raise DataError(
                    f"{archive}: not a readable tar archive ({exc})"
                ) from None
            except OSError as exc:
                what = f"member {short(member.name)}" if member else "the archive"
                raise DataError(
                    f"{archive}: extraction of {what} failed ({exc.strerror or exc})"
                ) from None
        source = work / root if root else work
        if root and source.is_symlink():
            # os.replace would move the link, not the folder it names
            raise DataError(f"{archive}: member {short(root)} is a link, not a folder")
        if not source.is_dir():
            raise DataError(f"{archive}: has no folder {short(root)} at its top level")
        if check is not None:
            check(source)
        with atomic_dir(dest) as tmp:
            # a folder may be renamed onto an empty one (POSIX rename)
            os.replace(source, tmp)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest

"""Resumable, checksummed downloads with a progress bar.

A download streams into `<dest>.part`; a later run resumes it with an HTTP Range
request. Only a file whose checksum matches is moved onto `dest`, and nothing at
`dest` is removed before then: offline, or with a server that fails, the file
that was there stays.
"""

import hashlib
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from hw2.core.errors import DataError
from hw2.core.failpoints import failpoint
from hw2.core.params import short
from hw2.core.progress import byte_bar

CHUNK = 1 << 20
# Plain HTTP is refused except on the loopback interface (local mirrors, tests).
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_url(url: str) -> None:
    """Refuse anything but HTTPS (or HTTP on loopback), and a URL with spaces or
    control characters (http.client would raise InvalidURL mid-request)."""
    if not url.isprintable() or any(c.isspace() for c in url):
        raise DataError(
            f"refusing to download {short(url)}: a URL holds no spaces or control "
            "characters (write a space as %20)"
        )
    parts = urlparse(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return
    raise DataError(
        f"refusing to download {short(url)}: only https:// URLs are allowed"
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL check_url allows (every hop is checked)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_CheckedRedirects())


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in chunks."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def download(
    url: str,
    dest: str | Path,
    *,
    checksum: str,
    algorithm: str = "md5",
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest` unless a verified copy is there; return `dest`."""
    check_url(url)
    dest = Path(dest)
    # the checksum is checked before any byte is downloaded
    n_hex = 2 * hashlib.new(algorithm).digest_size
    if not re.fullmatch(rf"[0-9a-fA-F]{{{n_hex}}}", checksum):
        raise DataError(
            f"{dest.name}: expected {algorithm} checksum {short(checksum)} is not "
            f"{n_hex} hexadecimal digits"
        )
    checksum = checksum.lower()
    if dest.exists() and file_digest(dest, algorithm) == checksum:
        return dest
    # A `dest` that does not match stays until its replacement is verified.
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0

    request = urllib.request.Request(url, headers={"User-Agent": "hw2-pipeline"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # Range not satisfiable: the partial file is already complete.
            response = None
        else:
            raise DataError(
                f"download of {short(url)} failed: HTTP {exc.code} {exc.reason}"
            ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"download of {short(url)} failed: it cannot be reached ({reason})"
        ) from None

    if response is not None:
        with response:
            if have and response.status != 206:
                have = 0  # the server ignored Range: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            with (
                part.open("ab" if have else "wb") as out,
                byte_bar(
                    desc=dest.name, total=total, initial=have, disable=not progress
                ) as bar,
            ):
                try:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        bar.update(len(chunk))
                        failpoint("download")
                except (OSError, urllib.error.URLError) as exc:
                    raise DataError(
                        f"download of {short(url)} interrupted after "
                        f"{part.stat().st_size} bytes ({exc}); run again to resume"
                    ) from None
            if total is not None and part.stat().st_size < total:
                raise DataError(
                    f"download of {short(url)} interrupted at {part.stat().st_size} of "
                    f"{total} bytes; run again to resume"
                )

    got = file_digest(part, algorithm)
    if got != checksum:
        part.unlink()
        raise DataError(
            f"download of {url}: {algorithm} checksum mismatch (expected {checksum}, "
            f"got {got}); the download was discarded"
        )
    os.replace(part, dest)
    return dest

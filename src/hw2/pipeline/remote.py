"""DVC remotes in one line: check one, push to it, pull from it.

DVC reports a broken remote as lines of botocore/fsspec text after a long retry;
here a failure is `remote 'NAME' (URL): CAUSE`. `check` asks the remote's own
filesystem through DVC, so every remote type and its `--local` credentials work.
"""

import re
import subprocess
from pathlib import Path

from hw2.core.errors import Hw2Error


class RemoteError(Hw2Error):
    """A DVC remote that is missing, unreachable, refuses us or lacks a bucket."""


# First match wins: the most specific causes first. Patterns cover botocore (S3),
# gcsfs, sshfs/asyncssh and DVC's own messages.
_CAUSES: list[tuple[re.Pattern, str]] = [
    (
        re.compile(r"no remote specified", re.I),
        "no remote configured: `dvc remote add -d NAME URL` (see README, Team remote)",
    ),
    (
        re.compile(r"NoSuchBucket|bucket does not exist", re.I),
        "the bucket does not exist (create it or fix the url)",
    ),
    (
        re.compile(r"Unable to locate credentials|NoCredentials|credentials not found"),
        "no credentials (`dvc remote modify --local NAME access_key_id ...` "
        "and secret_access_key)",
    ),
    (
        re.compile(
            r"InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|ExpiredToken"
            r"|Forbidden|\b403\b|Permission denied|PermissionError",
            re.I,
        ),
        "credentials rejected (wrong key or secret, or no access)",
    ),
    (
        re.compile(
            r"Could not connect to the endpoint|Connect(ion)? ?(refused|timeout)"
            r"|Cannot connect to host|Name or service not known|timed out"
            r"|getaddrinfo|No route to host|EndpointConnectionError",
            re.I,
        ),
        "cannot reach the server (check url, endpointurl, network)",
    ),
]
_ERROR_LINE = re.compile(r"^ERROR:\s*(?:unexpected error - )?(.*)$", re.M)


def cause(text: str, name: str = "NAME") -> str:
    """The reason for a failure, in words, from DVC's output or an exception text."""
    for pattern, words in _CAUSES:
        if pattern.search(text):
            return words.replace("NAME", name)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for i, line in enumerate(lines):
        match = _ERROR_LINE.match(line)
        if match:
            detail = match.group(1)
            if detail.endswith(":"):  # a list follows, e.g. "Checkout failed for:"
                detail += " " + ", ".join(lines[i + 1 : i + 4])
            return detail[:200]
    return (lines or ["unknown"])[-1][:200]


def describe(root: Path, name: str | None) -> tuple[str, str]:
    """(name, url) of the remote `name`, or of the default one; raises RemoteError."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        repo = Repo(str(root))
    except NotDvcRepoError:
        raise RemoteError(f"{root} is not a DVC repository") from None
    with repo:
        config = repo.config
        name = name or config["core"].get("remote")
        if not name:
            raise RemoteError(cause("no remote specified"))
        if name not in config["remote"]:
            known = ", ".join(sorted(config["remote"])) or "none"
            raise RemoteError(f"no remote named '{name}' (configured: {known})")
        return name, config["remote"][name]["url"]


def check(root: Path, name: str | None = None) -> str:
    """List the remote's folder (read only); returns a line saying it is usable."""
    from dvc.repo import Repo

    name, url = describe(root, name)
    with Repo(str(root)) as repo:
        remote = repo.cloud.get_remote(name)
        fs, path = remote.fs, remote.path
        try:
            # A remote nobody pushed to yet has no folder: its parent (up to the
            # bucket or root) must exist instead.
            probe = path
            while True:
                try:
                    fs.ls(probe, detail=False)
                    break
                except FileNotFoundError as exc:
                    parent = fs.parent(probe)
                    if "bucket" in str(exc).lower() or parent in ("", probe):
                        raise
                    probe = parent
            # ls of a file lists the file itself: a remote (or the folder it
            # would be made in) that is a file can hold nothing
            is_file = fs.isfile(probe)
        except Exception as exc:
            why = cause(f"{type(exc).__name__}: {exc}", name)
            raise RemoteError(f"remote '{name}' ({url}): {why}") from None
    if is_file:
        raise RemoteError(
            f"remote '{name}' ({url}): {probe} is a file, not a folder (fix the url)"
        )
    return f"remote '{name}' ({url}): reachable"


def transfer(root: Path, verb: str, name: str | None = None, *args: str) -> str:
    """Run `dvc push|pull|fetch [-r name] args`; DVC's summary, or one-line error."""
    if verb not in ("push", "pull", "fetch"):
        raise ValueError(verb)
    name, url = describe(root, name)
    proc = subprocess.run(
        ["dvc", verb, "-r", name, *args], cwd=root, capture_output=True, text=True
    )
    if proc.returncode != 0:
        why = cause(proc.stderr + proc.stdout, name)
        to = "to" if verb == "push" else "from"
        raise RemoteError(
            f"dvc {verb} {to} remote '{name}' ({url}) failed: {why} "
            f"(`dvc {verb} -v` for more)"
        )
    return proc.stdout.strip()

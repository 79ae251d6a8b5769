"""git and dvc command lines (a failure: one Hw2Error line naming the command), and
the files of the workspace or of a git revision, read or hashed as dvc.lock does."""

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hw2.core.download import file_digest
from hw2.core.errors import Hw2Error
from hw2.core.provenance import dvc_dir_md5, folder_md5


def dvc_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for dvc subprocesses: no analytics, this venv's bin first."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": path, **(extra or {})}


def command_name(args: Sequence[str]) -> str:
    """The command as typed, by its start when long (dozens of --copy-paths)."""
    return f"`{' '.join(args[:6])}{' …' * (len(args) > 6)}`"


def run(
    args: Sequence[str],
    root: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
    check: bool = True,
    timeout: float | None = None,
    text: bool = True,
) -> Any:
    """stdout of `args` run in `root` ("" with capture=False: shown as it goes)."""
    try:
        proc = subprocess.run(
            list(args),
            cwd=root,
            env=dict(env) if env is not None else dvc_env(),
            capture_output=capture,
            text=text,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Hw2Error(f"{command_name(args)} could not run ({exc})") from exc
    if check and proc.returncode != 0:
        err = proc.stderr or ""
        err = err.decode(errors="replace") if isinstance(err, bytes) else err
        lines = err.strip().splitlines()
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise Hw2Error(f"{command_name(args)} failed: {why}")
    return proc.stdout if capture else ""


def run_json(args: Sequence[str], root: str | Path, **kwargs: Any) -> Any:
    """The JSON a command prints, or one Hw2Error line naming the command."""
    try:
        return json.loads(run(args, root, **kwargs))
    except json.JSONDecodeError:
        raise Hw2Error(f"{command_name(args)} printed no JSON") from None


def paths(entries: Any) -> list[str]:
    """The paths of a dvc.yaml list (deps, outs, ...) of paths or {path: options}."""
    return [str(e if isinstance(e, str) else next(iter(e))) for e in entries or []]


def inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies in it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def check_commit(rev: str, root: str | Path) -> None:
    """Refuse a revision that is not a commit here, before any slow dvc call."""
    args = ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]
    if not run(args, root, check=False).strip():
        raise Hw2Error(
            f"base revision {rev!r} is not a commit here "
            "(in CI, check out with fetch-depth: 0)"
        )


def safe_page(page: str) -> str:
    """DVC's plots page with `<` in each chart's spec written `\\u003c`: dvc-render
    embeds the spec in a <script> with json.dumps, which leaves `</script>` in a
    branch name or a data value to end the script and run what follows."""
    spec = re.compile(r"^(\s*var spec = )(.*)$", re.M)
    return spec.sub(lambda m: m[1] + m[2].replace("<", "\\u003c"), page)


def plots_page(root: str | Path, revs: Sequence[str], out: str = "dvc_plots") -> Path:
    """`dvc plots diff REVS -o OUT` (DVC's own page), made safe."""
    run(["dvc", "plots", "diff", *revs, "-o", out], root)
    page = Path(root, out, "index.html")
    page.write_text(safe_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    return page


class Workspace:
    """The workspace's files, read or hashed as dvc.lock records them (or None)."""

    whole = True  # every file is here: an absent dependency is gone
    rev: str | None = None

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def read_bytes(self, path: str) -> bytes | None:
        file = self.root / path
        return file.read_bytes() if file.is_file() else None

    def md5(self, path: str) -> str | None:
        file = self.root / path
        return file_digest(file, "md5") if file.is_file() else None

    def folder_md5(self, path: str) -> str | None:
        folder = self.root / path
        return folder_md5(folder) if folder.is_dir() else None


class GitRev(Workspace):
    """The same files at a git revision, read from git: DVC-tracked data is absent
    (it follows from its producers' git-tracked deps; metrics are in git)."""

    whole = False

    def __init__(self, root: str | Path, rev: str):
        super().__init__(root)
        self.rev = rev
        listing = ["git", "ls-tree", "-r", "-z", "--name-only", rev]
        self.tracked = set(run(listing, root, check=False).split("\0")) - {""}
        self._folders: dict[str, str | None] = {}  # stages share folders

    def read_bytes(self, path: str) -> bytes | None:
        if path not in self.tracked:  # a folder (a git tree) too
            return None
        blob = ["git", "cat-file", "blob", f"{self.rev}:{path}"]
        return run(blob, self.root, text=False)

    def md5(self, path: str) -> str | None:
        data = self.read_bytes(path)
        return None if data is None else hashlib.md5(data).hexdigest()

    def folder_md5(self, path: str) -> str | None:
        if path not in self._folders:
            files = sorted(t for t in self.tracked if inside(t, path) and t != path)
            blobs = ((t[len(path) + 1 :], self.read_bytes(t) or b"") for t in files)
            self._folders[path] = dvc_dir_md5(blobs) if files else None
        return self._folders[path]

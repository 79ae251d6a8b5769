"""git and dvc command lines (a failure: one Hw2Error line naming the command), and
the files of the workspace or of a git revision, read as bytes."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hw2.core.errors import Hw2Error


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
) -> str:
    """stdout of `args` run in `root` with dvc_env(`env`) ("" with capture=False:
    shown as it goes)."""
    try:
        proc = subprocess.run(
            list(args),
            cwd=root,
            env=dvc_env(env),
            capture_output=capture,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Hw2Error(f"{command_name(args)} could not run ({exc})") from exc
    if check and proc.returncode != 0:
        lines = (proc.stderr or "").strip().splitlines()
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise Hw2Error(f"{command_name(args)} failed: {why}")
    return proc.stdout if capture else ""


def run_json(args: Sequence[str], root: str | Path, **kwargs: Any) -> Any:
    """The JSON a command prints, or one Hw2Error line naming the command."""
    try:
        return json.loads(run(args, root, **kwargs))
    except json.JSONDecodeError:
        raise Hw2Error(f"{command_name(args)} printed no JSON") from None


def overlap(a: str, b: str) -> bool:
    """Whether paths `a` and `b` are one, or one lies in the other."""
    return a == b or f"{b}/".startswith(f"{a}/") or f"{a}/".startswith(f"{b}/")


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


class Revision:
    """The files of a git revision (`rev`), or of the workspace (None), as bytes:
    None where absent (DVC-tracked data is in no commit)."""

    def __init__(self, root: str | Path, rev: str | None = None):
        self.root, self.rev = Path(root), rev

    def read_bytes(self, path: str) -> bytes | None:
        return git_file(self.root, self.rev or "workspace", path)


def git_file(root: str | Path, rev: str, path: str) -> bytes | None:
    """A git-tracked file at `rev` (the workspace's for "workspace"), else None."""
    file = Path(root, path)
    if rev == "workspace":
        return file.read_bytes() if file.is_file() else None
    blob = ["git", "cat-file", "blob", f"{rev}:{path}"]  # a folder is no blob
    proc = subprocess.run(blob, cwd=root, capture_output=True)
    return proc.stdout if proc.returncode == 0 else None

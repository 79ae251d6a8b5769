"""git and dvc command lines for the pipeline tools: run in a repository root with
this virtualenv's `dvc` first on PATH; a failure is one Hw2Error line naming the
command and its last line on stderr."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hw2.core.errors import Hw2Error

# A queued run's command line can carry dozens of --copy-paths: name its start.
_SHOWN_ARGS = 6


def dvc_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for dvc subprocesses: no analytics, this venv's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra or {}),
    }


def command_name(args: Sequence[str]) -> str:
    """The command as a user would type it, shortened when it is long."""
    shown = " ".join(args[:_SHOWN_ARGS])
    return f"`{shown} …`" if len(args) > _SHOWN_ARGS else f"`{shown}`"


def run(
    args: Sequence[str],
    root: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
    text: bool = True,
) -> Any:
    """stdout of `args` run in `root` (bytes with text=False); check=False
    returns it even on failure."""
    try:
        proc = subprocess.run(
            list(args),
            cwd=root,
            env=dict(env) if env is not None else dvc_env(),
            capture_output=True,
            text=text,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Hw2Error(f"{command_name(args)} could not run ({exc})") from exc
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        lines = err.strip().splitlines()
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise Hw2Error(f"{command_name(args)} failed: {why}")
    return proc.stdout


def run_json(args: Sequence[str], root: str | Path, **kwargs: Any) -> Any:
    """The JSON a command prints, or one Hw2Error line naming the command."""
    out = run(args, root, **kwargs)
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        raise Hw2Error(f"{command_name(args)} printed no JSON") from None


def paths(entries: Any) -> list[str]:
    """The paths of a dvc.yaml list (deps, outs, metrics, plots): each a path or
    a one-key mapping of a path to its options."""
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
    return re.sub(
        r"^(\s*var spec = )(.*)$",
        lambda m: m[1] + m[2].replace("<", "\\u003c"),
        page,
        flags=re.M,
    )


def plots_page(root: str | Path, revs: Sequence[str], out: str = "dvc_plots") -> Path:
    """`dvc plots diff REVS -o OUT` (DVC's own page, Vega from its CDN), made safe."""
    run(["dvc", "plots", "diff", *revs, "-o", out], root)
    page = Path(root, out, "index.html")
    page.write_text(safe_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    return page


class RevisionFiles:
    """Files at a git revision, or the workspace (rev None), through DVC's file
    system: git- and DVC-tracked alike, nothing checked out."""

    def __init__(self, root: str | Path, rev: str | None = None):
        # dvc's import takes a second: only the tools that read revisions pay it
        from dvc.api import DVCFileSystem
        from dvc.exceptions import DvcException

        self._errors = (OSError, DvcException)
        self.rev = rev
        try:
            self._fs = DVCFileSystem(str(root), rev=rev)
        except self._errors as exc:
            where = rev or "the workspace"
            raise Hw2Error(f"cannot read the files of {where} ({exc})") from exc

    def read_bytes(self, path: str) -> bytes | None:
        """The file's bytes, None when absent (or its data is not cached)."""
        try:
            return self._fs.read_bytes(path)
        except self._errors:
            return None

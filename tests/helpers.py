"""Helpers shared by the tests: the one way to run a command (sh) and to make a git +
DVC repository (git_dvc_repo), run a stage as dvc.yaml runs it, set a dotted param,
copy the project (tiny) and reproduce it once for the end-to-end tests."""

import os
import re
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hw2.core.params import Params, load_params
from hw2.core.stage import check_stage

ROOT = Path(__file__).resolve().parents[1]
_STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def stage_argv(name: str) -> list[str]:
    """The stage's arguments after its script, exactly as dvc.yaml's cmd gives them."""
    env, python, script, *args = shlex.split(_STAGES[name]["cmd"])
    expected = ("PYTHONPATH=src", "python", f"stages/{name}.py")
    assert (env, python, script) == expected, _STAGES[name]["cmd"]
    return args


def default_signals() -> None:
    """In a child before exec: SIGINT and SIGTERM at their defaults, none blocked.
    A suite started as `make test &` inherits SIGINT ignored, and an ignored
    signal stays ignored across exec: the Ctrl-C a test sends would never land."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def sh(
    cmd: list[str],
    cwd: Path,
    *,
    ok: bool = True,
    env: dict[str, str] | None = None,
    timeout: float | None = 600,
) -> subprocess.CompletedProcess:
    """Run `cmd` in `cwd` with tool_env() (plus `env`), output captured as text;
    with ok (the default) it must exit 0, else the test fails with its output."""
    done = subprocess.run(
        cmd,
        cwd=cwd,
        env=tool_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=default_signals,
    )
    if ok:
        assert done.returncode == 0, (
            f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def git_dvc_repo(folder: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository (branch main) with DVC initialised in `folder`, `files`
    (path -> text) written, everything committed."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    sh(["git", "init", "-q", "-b", "main"], folder)
    sh(["dvc", "init", "-q"], folder)
    sh(["git", "add", "-A"], folder)
    sh(["git", "commit", "-qm", "init"], folder)
    return folder


def run_stage(
    name: str, cwd: Path, *, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run stages/<name>.py in `cwd` (a project folder) in a fresh interpreter."""
    return sh(
        [sys.executable, str(ROOT / "stages" / f"{name}.py"), *stage_argv(name)],
        cwd,
        ok=False,
        env={"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", **(env or {})},
        timeout=timeout,
    )


def stage_main(name: str, monkeypatch) -> Callable[[], None]:
    """The stage's main(), in this process, with dvc.yaml's arguments in sys.argv,
    given its check's findings as run_stage gives them."""
    script = ROOT / "stages" / f"{name}.py"
    monkeypatch.setattr(sys, "argv", [str(script), *stage_argv(name)])
    main = runpy.run_path(str(script))["main"]
    return lambda: main(check_stage(name, load_params()))


def with_params(params: dict, **changes: Any) -> dict:
    """A copy of the mapping `params` with dotted keys set (Params.override), new
    ones too (typo tests): with_params(p, **{"asr.lr": 1})."""
    return Params(params).override(changes).data


def write_params(folder: Path, params: dict) -> Path:
    """Write `params` as folder/params.yaml; returns its path."""
    path = Path(folder) / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


# Sizes that make the whole DAG run in a minute or two (the end-to-end tests).
TINY = {
    "data.images.sample.n_train": 48,
    "data.images.sample.n_val": 16,
    "data.images.sample.n_test": 16,
    "cnn.epochs": 2,
    "data.speech.sample.n_clips": 12,
    "asr.epochs.sample": 1,
    "asr.batch_size.sample": 4,
    "asr.eval_batch_size": 4,
    "asr.val_decode": 4,
    "attention.lengths": [64, 128],
    "attention.error_terms": [1, 3],
    "threads": 1,  # as the tests' OMP_NUM_THREADS=1 gave before it was a param
}


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for git, dvc and stages in a test: the session's (conftest
    pins locale, HOME, git's config and identity) with this interpreter's tools
    first on PATH, one thread, no analytics."""
    return {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "OMP_NUM_THREADS": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **extra,
    }


def copy_project(dest: Path, params: dict[str, Any] = TINY) -> Path:
    """The project's tracked and new files (no metrics, no dvc.lock) copied to
    dest, with `params` (dotted keys) set in its params.yaml; not a git repo yet."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        src = ROOT / name
        if src.is_file() and not name.startswith(("metrics/", "dvc.lock")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    data = with_params(yaml.safe_load((dest / "params.yaml").read_text()), **params)
    (dest / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


def reproduce_tiny(dest: Path) -> set[str]:
    """The project, tiny, as a new git repository (branch main) in dest: `dvc
    repro` run on its own code and committed. Returns the paths the repro changed
    in `git status`."""
    copy_project(dest)
    env = {"PYTHONPATH": str(dest / "src")}

    def status() -> set[str]:
        out = sh(["git", "status", "--porcelain", "--untracked-files=all"], dest)
        return set(out.stdout.split("\n"))

    sh(["git", "init", "-q", "-b", "main"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "commit", "-qm", "init"], dest)
    before = status()
    sh(["dvc", "repro"], dest, env=env, timeout=None)
    changed = {entry[3:] for entry in status() - before if entry}
    sh(["git", "add", "-A"], dest)
    sh(["git", "commit", "-qm", "repro"], dest)
    return changed


def _dvc_tmp(folder: str, names: list[str]) -> set[str]:
    return {"tmp"} & set(names) if Path(folder).name == ".dvc" else set()


def copy_reproduced(src: Path, dest: Path) -> Path:
    """A copy of a reproduced project: git history, workspace and DVC cache, not
    .dvc/tmp (DVC's locks, queue and file-hash state belong to one folder)."""
    shutil.copytree(src, dest, symlinks=True, ignore=_dvc_tmp)
    return dest


class Files:
    """hw2.pipeline.dvc.Workspace or GitRev over a dict of path -> text (no git)."""

    def __init__(self, files, rev="base"):
        self.rev, self._files = rev, files

    def read_bytes(self, path):
        text = self._files.get(path)
        return None if text is None else text.encode()


def squeezed(text: str) -> str:
    """A Markdown page with its tables' padding taken out (tabulate pads each
    column to its widest cell), so that a test names a row as people read it."""
    return re.sub(r"\|-+", "|---", re.sub(r" +\|", " |", text))

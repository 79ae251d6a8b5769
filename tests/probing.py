"""Helpers of the probe suites: small tmpfs disks (full or read-only), stages run
in the background until they print a marker, and waiting for processes to end.

A tmpfs needs `mount`, which needs root (or CAP_SYS_ADMIN); where it is refused
the tests that need one are skipped, and the mocked-errno tests in
test_probes.py cover the same messages.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import ROOT, default_signals, stage_argv

WAIT = 120.0  # seconds a process may take to reach a marker or to end


@contextmanager
def tmpfs(path: Path, size: str = "64k", read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (read-only after creation when asked);
    skips the test where mounting is not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        pytest.skip("no mount command here: tmpfs probes skipped (mocked ones run)")
    if done.returncode != 0:
        pytest.skip(
            "mount -t tmpfs not permitted here (needs root): tmpfs probes skipped, "
            f"the mocked-errno probes cover the messages ({done.stderr.strip()})"
        )
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def make_read_only(path: Path) -> None:
    """Remount a tmpfs from tmpfs() read-only (after files were put there)."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def stage_command(name: str, *args: str) -> list[str]:
    """The stage's command line; `args` replace dvc.yaml's when given."""
    script = str(ROOT / "stages" / f"{name}.py")
    return [sys.executable, script, *(args or stage_argv(name))]


def stage_env(**extra: str) -> dict[str, str]:
    """The environment stages run with in the probes: this tree's code, 1 thread."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "OMP_NUM_THREADS": "1",
        **extra,
    }


def wait_for(predicate, what: str, timeout: float = WAIT) -> None:
    """Poll until predicate() is true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    """The direct children of `pid` (Linux)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, nearest first."""
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def lines(text: str) -> list[str]:
    """The non-empty lines of a stage's stderr, progress bars' redraws dropped."""
    return [line for line in text.splitlines() if line.strip() and "\r" not in line]


@contextmanager
def background(cmd: list[str], cwd: Path, log: Path, **kwargs) -> Iterator:
    """Popen `cmd` with stdout and stderr into `log`, SIGINT and SIGTERM at their
    defaults whatever this suite inherited (the test sends them); killed if still
    running."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=default_signals,
            **kwargs,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

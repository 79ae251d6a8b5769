"""How a stage process stops: with the dvc that started it, on SIGTERM or Ctrl-C,
and when params.yaml changes under it; each time by an exception, so that
`finally` blocks remove temporary files and the stage ends in one line.

DVC runs a stage as `$SHELL -c CMD`. bash replaces itself with the command, so
the stage's parent is dvc; dash (/bin/sh on Debian and Ubuntu, DVC's choice when
$SHELL is unset) forks, so the parent is a shell that outlives a killed dvc. The
stage asks the kernel for SIGTERM when its parent exits (prctl PR_SET_PDEATHSIG)
and, when the parent is a shell, watches the shell's parent too. Without this a
`timeout`, a CI cancel or a closed terminal ends dvc but not the stage, which
writes its outputs after DVC is gone and races the next run for its checkpoint.
"""

import ctypes
import os
import select
import signal
import sys
import threading
from pathlib import Path

from hw2.core import params as params_module

PR_SET_PDEATHSIG = 1  # linux/prctl.h
SHELLS = {"sh", "dash", "bash", "zsh", "ksh", "mksh", "ash", "busybox", "fish"}
POLL_SECONDS = 0.5


class Stopped(BaseException):
    """The stage was told to stop. A BaseException, as KeyboardInterrupt is, so a
    library's `except Exception` does not swallow it."""

    def __init__(self, why: str, code: int):
        super().__init__(why)
        self.why = why
        self.code = code


_stop: tuple[str, int] | None = None  # (why, exit code): the watcher's reason
_parent = os.getppid()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _ppid_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after it
    return int(stat.rpartition(")")[2].split()[1])


def _on_signal(signum: int, frame) -> None:
    # A second signal while the first unwinds kills at once (the default).
    signal.signal(signum, signal.SIG_DFL)
    global _stop
    if _stop is not None:
        (why, code), _stop = _stop, None
        raise Stopped(why, code)
    if os.getppid() != _parent:
        raise Stopped(f"its parent (pid {_parent}) has exited", 128 + signum)
    raise Stopped(f"it received {signal.Signals(signum).name}", 128 + signum)


def _die_with_parent() -> None:
    """SIGTERM when the parent exits (Linux; elsewhere nothing happens)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return


def _stop_main(why: str, code: int) -> None:
    global _stop
    _stop = (why, code)
    signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)


def _watch(ancestor: int | None) -> None:
    """Wake every POLL_SECONDS: stop the stage when `ancestor` exits or a value it
    read from params.yaml changes."""
    fd = None
    if ancestor is not None:
        try:
            fd = os.pidfd_open(ancestor)
        except (AttributeError, OSError):
            fd = None
    poller = select.poll()
    if fd is not None:
        poller.register(fd, select.POLLIN)
    while True:
        if fd is not None:
            if poller.poll(POLL_SECONDS * 1000):
                _stop_main(
                    f"its dvc (pid {ancestor}, which ran it through a shell) has "
                    "exited",
                    128 + signal.SIGTERM,
                )
                return
        else:
            threading.Event().wait(POLL_SECONDS)
        change = params_module.changed_since_read()
        if change:
            _stop_main(change, 2)
            return


def install() -> None:
    """Turn SIGTERM and SIGHUP into Stopped, stop with the parent, and start the
    watcher; call once, from the main thread, before the stage's work."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    _die_with_parent()
    if os.getppid() != _parent:  # it exited before the kernel was asked
        raise Stopped(f"its parent (pid {_parent}) had exited", 128 + signal.SIGTERM)
    ancestor = _ppid_of(_parent) if _comm(_parent) in SHELLS else None
    if ancestor is not None and ancestor <= 1:
        ancestor = None
    threading.Thread(target=_watch, args=(ancestor,), daemon=True).start()

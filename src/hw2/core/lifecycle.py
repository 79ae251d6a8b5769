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
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

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


def _shells_parent() -> int | None:
    """The parent's parent where the parent is a shell (and that is not init)."""
    try:
        parent = psutil.Process(_parent)
        ancestor = parent.ppid() if parent.name() in SHELLS else None
    except psutil.Error:
        return None
    return ancestor if ancestor and ancestor > 1 else None


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


@contextmanager
def held() -> Iterator[None]:
    """Hold a stop until the block ends, then raise it: for writes a Stopped must
    not cut in two (torch.save's zip writer, stopped mid-archive, raises its own
    RuntimeError from `__exit__` in place of the Stopped). A second signal while
    held is the same stop; a block of a second or less is what this is for."""
    caught: list[int] = []
    hold = {
        s: signal.getsignal(s)
        for s in (signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(s) is _on_signal
    }
    if threading.current_thread() is not threading.main_thread():
        hold = {}  # handlers are the main thread's; nothing to hold here
    for signum in hold:
        signal.signal(signum, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for signum, handler in hold.items():
            signal.signal(signum, handler)
        if caught:
            _on_signal(caught[0], None)


def _parent_death_signal(signum: int) -> None:
    """Ask the kernel for `signum` when the parent exits (0: never); Linux only."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):
        return


class Lifeline:
    """What install() set up, undone by close() (a stage run inside a test)."""

    def __init__(self, ancestor: int | None, since: int):
        self.ancestor = ancestor
        self.since = since  # params files loaded from here on are the stage's
        self.done = threading.Event()
        # a signal ignored on purpose (nohup's SIGHUP) stays ignored
        self.previous = {
            s: signal.getsignal(s)
            for s in (signal.SIGTERM, signal.SIGHUP)
            if signal.getsignal(s) is not signal.SIG_IGN
        }
        for signum in self.previous:
            signal.signal(signum, _on_signal)
        _parent_death_signal(signal.SIGTERM)
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _stop_main(self, why: str, code: int) -> None:
        global _stop
        if not self.done.is_set():
            _stop = (why, code)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)

    def _watch(self) -> None:
        """Wake every POLL_SECONDS: stop the stage when the ancestor exits or a
        value it read from params.yaml changes."""
        fd = None
        if self.ancestor is not None:
            try:
                fd = os.pidfd_open(self.ancestor)
            except (AttributeError, OSError):
                fd = None
        poller = select.poll()
        if fd is not None:
            poller.register(fd, select.POLLIN)
        while not self.done.is_set():
            if fd is not None and poller.poll(POLL_SECONDS * 1000):
                self._stop_main(
                    f"its dvc (pid {self.ancestor}, which ran it through a shell) "
                    "has exited",
                    128 + signal.SIGTERM,
                )
                break
            if fd is None and self.done.wait(POLL_SECONDS):
                break
            change = params_module.changed_since_read(self.since)
            if change:
                self._stop_main(change, 2)
                break
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Stop watching and give the signals back their handlers."""
        self.done.set()
        _parent_death_signal(0)
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def install() -> Lifeline:
    """Turn SIGTERM and SIGHUP into Stopped, stop with the parent, and watch the
    shell's parent and params.yaml; from the main thread, before the stage's work.
    The caller close()s what it returns."""
    life = Lifeline(_shells_parent(), params_module.loaded())
    if os.getppid() != _parent:  # it exited before the kernel was asked
        life.close()
        raise Stopped(f"its parent (pid {_parent}) had exited", 128 + signal.SIGTERM)
    life.thread.start()
    return life

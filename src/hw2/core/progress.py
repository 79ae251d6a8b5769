"""Progress bars for a person at a terminal; a few plain lines for logs and CI.

Every loop of the pipeline imports `tqdm` from here instead of from tqdm. On a
terminal it is tqdm itself, redrawn in place. Anywhere else (a file, a pipe, a CI
log) each redraw would become a line of its own: a `make repro` log kept 1,317
of them. There the bar prints its state as one line when it starts, after every
further LINE_EVERY of its total (or LINE_SECONDS without such progress) and when
it ends; the loops print their own line per epoch with `tqdm.write`.
"""

import sys
import time
from functools import partial

from tqdm import tqdm as _tqdm

LINE_EVERY = 0.25  # share of the total between two lines of a bar in a log
LINE_SECONDS = 300.0  # a line at least this often while it moves (CI timeouts)


def interactive(stream) -> bool:
    """Whether `stream` is a terminal a person watches (bars redraw there)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _Lines:
    """A bar's stream in a log: tqdm's carriage returns and bare newlines dropped."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        if text.strip("\r\n"):
            self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


class tqdm(_tqdm):  # noqa: N801  (a drop-in for tqdm.tqdm: call sites change an import)
    """tqdm that redraws on a terminal and prints a few whole lines elsewhere."""

    def __init__(self, *args, **kwargs):
        stream = kwargs.get("file") or sys.stderr
        self._lines = not interactive(stream)
        if self._lines:
            kwargs["file"] = _Lines(stream)
            kwargs["dynamic_ncols"] = False
            kwargs.setdefault("ncols", 100)
        self._printed_n: float | None = None
        self._printed_t = 0.0
        self._closing = False
        super().__init__(*args, **kwargs)

    def _due(self) -> bool:
        if self._closing or self._printed_n is None:
            return True
        if self.n == self._printed_n:
            return False
        if self.total and self.n - self._printed_n >= LINE_EVERY * self.total:
            return True
        return time.monotonic() - self._printed_t >= LINE_SECONDS

    def display(self, msg=None, pos=None):
        """On a terminal, redraw; in a log, print a line when one is due."""
        if not self._lines:
            return super().display(msg, pos)
        if msg == "" or not self._due():  # "" clears a bar: nothing to clear
            return True
        self.fp.write((self.__str__() if msg is None else msg) + "\n")
        self.fp.flush()
        self._printed_n, self._printed_t = self.n, time.monotonic()
        return True

    def close(self):
        """End the bar; in a log, with a last line unless the last one said it."""
        if self._lines and not self.disable and self._printed_n == self.n:
            self.leave = False
        self._closing = True
        super().close()


# a bar that counts bytes in binary units (340 KiB, 1.2 MiB/s)
byte_bar = partial(tqdm, unit="B", unit_scale=True, unit_divisor=1024)

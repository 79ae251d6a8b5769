"""Progress: redrawn bars on a terminal, a few whole lines in a log."""

import io

import pytest

from hw2.core import progress
from hw2.core.progress import tqdm


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_epochs(stream, epochs: int = 4, steps: int = 250) -> None:
    """A training loop as the stages write it: one bar, a postfix per step, a line
    per epoch through tqdm.write."""
    with tqdm(total=epochs * steps, desc="train", file=stream) as bar:
        for epoch in range(epochs):
            for step in range(steps):
                bar.update()
                bar.set_postfix(loss=f"{1 / (step + 1):.3f}")
            bar.write(f"epoch {epoch + 1}: loss 0.1", file=stream)


def test_a_log_gets_a_line_per_epoch_and_a_few_for_the_bar():
    log = io.StringIO()
    run_epochs(log)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert epochs == [f"epoch {e}: loss 0.1" for e in range(1, 5)]
    bar = [line for line in lines if line.startswith("train")]
    # start, each quarter of the total, and no repeat of the last at the end
    assert [line.split("|")[0].split()[-1] for line in bar] == [
        "0%",
        "25%",
        "50%",
        "75%",
        "100%",
    ]
    assert "1000/1000" in bar[-1]
    assert all(line.strip() for line in lines)


def test_a_terminal_gets_the_redrawn_bar():
    screen = Terminal()
    run_epochs(screen)
    assert screen.getvalue().count("\r") > 100  # tqdm's own redraws


def test_a_log_line_comes_after_a_while_without_a_quarter(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    log = io.StringIO()
    with tqdm(total=1000, desc="slow", file=log, mininterval=0) as bar:
        bar.update(10)  # 1 %: not due
        clock[0] += progress.LINE_SECONDS
        bar.update(10)  # 2 %, but LINE_SECONDS since the last line
        bar.update(10)
    percents = [line.split("|")[0].split()[-1] for line in log.getvalue().splitlines()]
    assert percents == ["0%", "2%", "3%"]  # start, the time-due line, the end


def test_a_bar_of_unknown_total_ends_with_its_count():
    log = io.StringIO()
    for _ in tqdm(iter(range(5000)), desc="files", file=log):
        pass
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "5000" in lines[-1]


@pytest.mark.parametrize("stream", [io.StringIO(), Terminal()])
def test_a_disabled_bar_prints_nothing(stream):
    run_epochs_disabled = tqdm(total=10, file=stream, disable=True)
    run_epochs_disabled.update(10)
    run_epochs_disabled.close()
    assert stream.getvalue() == ""


def test_a_closed_or_plain_stream_is_no_terminal():
    closed = io.StringIO()
    closed.close()
    assert not progress.interactive(closed)
    assert not progress.interactive(object())
    assert progress.interactive(Terminal())

"""`make exps`: the experiments of a commit as one table that fits a terminal.

`dvc exp show` draws every param, metric and dependency it finds (about 200
columns, all `…` at 120); it keeps its numbers only when `--drop`/`--keep` name a
few columns by hand (the README's line). This table picks them itself, from what
a person compares: each run's name and state, the headline metrics (test accuracy,
CER, WER; the attention speedup where runs differ), lr and decoder always, and
the other params where runs differ, under their short names. A name too long for
the terminal is cut, never a number.
"""

import shutil
from collections.abc import Sequence
from pathlib import Path

from hw2.pipeline import dvc
from hw2.pipeline.catalog import ASR_JSON, ATTENTION_JSON, CNN_JSON
from hw2.pipeline.runs import (
    ASR,
    CNN,
    Column,
    Run,
    format_cells,
    format_param,
    parse_exp_show,
)

HEADLINES = (
    Column("test acc", CNN_JSON, "test_acc"),
    Column("CER", ASR_JSON, "cer"),
    Column("WER", ASR_JSON, "wer"),
)
SPEEDUP = Column("speedup", ATTENTION_JSON, "speedup")
ALWAYS_PARAMS = ("lr", "decoder")
GAP = "  "
MIN_NAME = 12  # the name column is cut to fit, down to this width


def short_name(key: str) -> str:
    """A param's column header: the studies' short name, else its last part."""
    for study in (CNN, ASR):
        if key in study.names:
            return study.header(key)
    return key.rsplit(".", 1)[-1]


def columns(runs: Sequence[Run]) -> list[Column]:
    """The headline metrics, then lr and decoder, then the params that vary."""
    cols = list(HEADLINES)
    speedups = {r.value(SPEEDUP) for r in runs if r.value(SPEEDUP) is not None}
    if len(speedups) > 1:
        cols.append(SPEEDUP)
    cols += [Column(key, "params", key) for key in ALWAYS_PARAMS]
    keys = sorted({k for r in runs for k in r.params} - set(ALWAYS_PARAMS))
    for key in keys:
        values = {format_param(r.params.get(key)) for r in runs}
        if len(values) > 1:
            cols.append(Column(short_name(key), "params", key))
    return cols


def cells(run: Run, cols: Sequence[Column]) -> list[str]:
    """A run's cells; an unfinished run's metrics are "–" (DVC shows the copy of
    its baseline's files that the run started from)."""
    out = format_cells(run, cols)
    if run.state not in (None, "success"):
        out = ["–" if c.is_metric else text for c, text in zip(cols, out, strict=True)]
    return out


def table(runs: Sequence[Run], width: int) -> str:
    """The runs as aligned text at most `width` columns wide (names cut to fit)."""
    cols = columns(runs)
    header = ["run", *(c.header for c in cols)]
    rows = [[run.name, *cells(run, cols)] for run in runs]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    room = width - len(GAP) * len(header) - sum(widths[1:])
    widths[0] = max(MIN_NAME, min(widths[0], room))

    def line(cells: list[str]) -> str:
        name = cells[0]
        if len(name) > widths[0]:
            name = name[: widths[0] - 1] + "…"
        parts = [name.ljust(widths[0])]
        for i, text in enumerate(cells[1:], start=1):
            is_param = not cols[i - 1].is_metric
            parts.append(text.ljust(widths[i]) if is_param else text.rjust(widths[i]))
        return (GAP + GAP.join(parts)).rstrip()

    rule = GAP + "─" * (sum(widths) + len(GAP) * (len(widths) - 1))
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def show(root: str | Path, rev: str | None = None, width: int | None = None) -> str:
    """HEAD's experiments (or those of `rev`) as the table, for the terminal."""
    runs = parse_exp_show(dvc.exp_show(root, rev))
    if not runs:
        return "no results yet: run `make repro` or `dvc exp run`"
    return table(runs, width or shutil.get_terminal_size((120, 24)).columns)

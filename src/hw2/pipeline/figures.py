"""Figures for people: the report's and the PR comment's PNGs (matplotlib).

Axes titled with quantity and unit, a seed spread as a shaded band, one line per
method on log axes where values span decades; two revisions are one colour each
(base blue, branch orange). PNGs carry no Software tag: equal inputs, equal bytes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hw2.core.errors import DataError
from hw2.pipeline import catalog


@dataclass
class Series:
    """One line: (x, y) points sorted by x, and an optional band (low, high) per x."""

    label: str
    points: list[tuple[float, float]]
    band: list[tuple[float, float, float]] | None = None  # (x, low, high)

    @property
    def ys(self) -> list[float]:
        return [y for _, y in self.points]


REVISION_COLOURS = ("#4c72b0", "#dd8452")  # base, this branch
STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))
# An axis is logarithmic when its positive values span at least this factor.
LOG_SPAN = 20.0


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Save and close a figure; no Software tag, so equal inputs give equal bytes."""
    fig.savefig(path, dpi=100, metadata={"Software": None})
    pyplot().close(fig)


def wants_log(values: Sequence[float]) -> bool:
    """Whether values are all positive and span LOG_SPAN or more."""
    return bool(values) and min(values) > 0 and max(values) / min(values) >= LOG_SPAN


def finish_axes(
    ax: Any, title: str, x_title: str, y_title: str, series: Sequence[Series]
) -> None:
    """Titles, log scales where the data span decades, grid."""
    from matplotlib.ticker import MaxNLocator

    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for y in s.ys]
    if wants_log(xs):
        ax.set_xscale("log")
    elif all(float(x).is_integer() for x in xs):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if wants_log(ys):
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set(xlabel=x_title, ylabel=y_title)
    ax.grid(alpha=0.3, which="both")


def revision_figure(
    path: Path,
    title: str,
    axes_titles: tuple[str, str],
    revisions: Sequence[tuple[str, Sequence[Series]]],
    epoch: bool = False,
) -> None:
    """One chart of the same series at several revisions: a colour per revision,
    a line style per series, bands kept."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    labels = list(dict.fromkeys(s.label for _, ss in revisions for s in ss))
    for (_, series), colour in zip(revisions, REVISION_COLOURS, strict=False):
        for s in series:
            _styled(ax, s, colour, labels.index(s.label), epoch)
    finish_axes(ax, title, *axes_titles, [s for _, ss in revisions for s in ss])
    handles = [
        Line2D([], [], color=c, lw=3, label=name)
        for (name, _), c in zip(revisions, REVISION_COLOURS, strict=False)
    ]
    for i, label in enumerate(labels if len(labels) > 1 else []):
        style, marker = STYLES[i % len(STYLES)]
        handles.append(
            Line2D([], [], color="k", ls=style, marker=marker, ms=3, label=label)
        )
    if any(s.band for _, ss in revisions for s in ss):
        handles.append(Patch(color="grey", alpha=0.3, label="spread over seeds"))
    ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _styled(
    ax: Any, s: Series, colour: str, i: int, epoch: bool, label: str | None = None
) -> None:
    """One series in the i-th line style, its band shaded in the same colour."""
    style, marker = STYLES[i % len(STYLES)]
    xs = [x + epoch for x, _ in s.points]
    ax.plot(xs, s.ys, style, color=colour, marker=marker, ms=3, label=label)
    if s.band:
        xs, lows, highs = zip(*s.band, strict=True)
        xs = [x + epoch for x in xs]
        ax.fill_between(xs, lows, highs, color=colour, alpha=0.2, linewidth=0)


def read_frame(path: Path) -> pd.DataFrame:
    """A plot data file (CSV or TSV) as text cells, or a DataError naming it."""
    try:
        sep = "\t" if path.suffix == ".tsv" else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def numbers(path: Path, frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`columns` of a file as numbers, or a DataError naming the line."""
    out = frame[list(columns)].apply(pd.to_numeric, errors="coerce")
    bad = out.isna().any(axis=1)
    if bad.any():
        raise DataError(f"{path}: line {bad.idxmax() + 2}: not a number")
    return out


def _curve(path: Path) -> pd.Series | None:
    """A dvclive TSV as its values by step, None where there is no file."""
    if not path.is_file():
        return None
    frame = numbers(path, read_frame(path), ["step", path.stem])
    return frame.set_index("step")[path.stem].sort_index()


def live_series(folder: Path, names: Sequence[str]) -> list[Series]:
    """dvclive curves `names` (e.g. "train/loss") with their _min/_max bands."""
    found = []
    for name in names:
        mean, low, high = (
            _curve(folder / f"{name}{s}.tsv") for s in ("", "_min", "_max")
        )
        if mean is None:
            continue
        band = None
        if low is not None and high is not None:
            both = pd.concat([low, high], axis=1).reindex(mean.index).dropna()
            band = list(both.itertuples(name=None)) or None
        found.append(Series(name, list(mean.items()), band))
    return found


def by_method(path: Path, x: str, y: str, factor: float = 1.0) -> list[Series]:
    """`y` / factor against `x`, one series per method (a long file's text column)."""
    frame = read_frame(path)
    values = numbers(path, frame, [x, y]) / [1.0, factor]
    groups = frame["method"] if "method" in frame else pd.Series([y] * len(frame))
    return [
        Series(str(name), list(part.sort_values(x).itertuples(index=False, name=None)))
        for name, part in values.groupby(groups.values, sort=False)
    ]


def panels_figure(
    panels: Sequence[tuple[str, str, Sequence[Series]]],
    path: Path,
    x_title: str = "epoch",
) -> None:
    """Side-by-side charts of (title, y title, series) over a shared x meaning
    (an epoch counted from 1: dvclive's step + 1)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, (title, y_title, series) in zip(axes, panels, strict=True):
        for i, s in enumerate(series):
            _styled(ax, s, f"C{i}", i, x_title == "epoch", s.label)
        finish_axes(ax, title, x_title, y_title, series)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_confusion(path: Path, seeds: int, dest: Path) -> None:
    """Each actual class's share predicted as each class (colour and %) from a CSV
    of actual,predicted rows, counts pooled over `seeds` networks (each
    classified every test image); labels in CNN_CLASSES' order, then any others."""
    frame = read_frame(path)
    if not {"actual", "predicted"} <= set(frame.columns):
        raise DataError(f"{path}: expected columns actual,predicted")
    seen = set(frame["actual"]) | set(frame["predicted"])
    labels = [c for c in catalog.CNN_CLASSES if c in seen] + sorted(
        seen - set(catalog.CNN_CLASSES)
    )
    counts = pd.crosstab(frame["actual"], frame["predicted"])
    counts = counts.reindex(index=labels, columns=labels, fill_value=0)
    shares = counts.div(counts.sum(axis=1).clip(lower=1), axis=0)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    image = ax.imshow(shares.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(counts.to_numpy()):
        share = shares.iat[i, j]
        colour = "white" if share > 0.5 else "black"
        text = f"{share:.0%}\n({count:,})"
        ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted class", ylabel="actual class")
    pooled = f", pooled over {seeds} seeds" if seeds > 1 else ""
    ax.set_title(f"CNN test confusion (share of each actual class{pooled})", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the actual class")
    fig.tight_layout()
    save_figure(fig, dest)


def write_figures(root: Path, dest: Path, seeds: int = 1) -> set[str]:
    """Write the PNGs whose inputs exist into `dest`; return their file names."""
    cnn, asr = root / catalog.CNN_PLOTS, root / catalog.ASR_PLOTS
    band = f"\nmean of {seeds} seeds, band: lowest to highest" * (seeds > 1)
    curves = {  # name: panels of (title, y title, dvclive curves) over epochs
        "cnn_curves.png": [
            (f"CNN training loss{band}", "loss (NLL, nats)", cnn, ["train/loss"]),
            (f"CNN validation accuracy{band}", "accuracy", cnn, ["val/acc"]),
        ],
        "asr_curves.png": [
            ("ASR loss", "loss (cross-entropy, nats)", asr, ["train/loss", "val/loss"]),
            ("ASR validation CER", "character error rate", asr, ["val/cer"]),
            ("ASR validation similarity", "similarity (0-1)", asr, ["val/similarity"]),
        ],
    }
    figures = {  # name: (x title, panels of (title, y title, series))
        name: ("epoch", [(t, y, live_series(d, c)) for t, y, d, c in panels])
        for name, panels in curves.items()
    }

    def bench(path: str, x: str, y: str, factor: float = 1.0) -> list[Series]:
        return by_method(root / path, x, y, factor) if (root / path).is_file() else []

    time = bench(catalog.ATTENTION_TIME, "length", "seconds")
    memory = bench(catalog.ATTENTION_MEMORY, "length", "peak_bytes", 2**20)
    error = bench(catalog.ATTENTION_ERROR, "terms", "rel_error")
    figures["attention.png"] = (
        "sequence length L (tokens)",
        [
            ("time per call", "time (s)", time),
            ("peak memory", "peak memory (MiB)", memory),
        ],
    )
    figures["attention_error.png"] = (
        "series terms K",
        [("McLaurin attention's error", "relative error", error)],
    )
    written = set()
    for name, (x_title, panels) in figures.items():
        if panels := [p for p in panels if p[2]]:
            panels_figure(panels, dest / name, x_title)
            written.add(name)
    if (root / catalog.CNN_CONFUSION).is_file():
        plot_confusion(root / catalog.CNN_CONFUSION, seeds, dest / "cnn_confusion.png")
        written.add("cnn_confusion.png")
    return written

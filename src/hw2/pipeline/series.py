"""Plot data as the series a person would draw: one line per method, bands folded in.

hw2.pipeline.plots reads which files each plot of dvc.yaml draws; this module
turns a plot's rows into series. Rows that carry a category (the attention
benchmark's `method`) become one series per category instead of one zig-zag
line; a series `X` with companions `X_min` and `X_max` (or `X_lo` / `X_hi`)
becomes X with a shaded band (the CNN's spread over seeds), not three lines.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from hw2.pipeline.plots import BOOKKEEPING, PlotSpec, number, parse_rows, points

BAND_SUFFIXES = (("_min", "_max"), ("_lo", "_hi"))
# Axis titles for the columns the pipeline writes, with their units.
AXIS_TITLES = {
    "step": "epoch",
    "epoch": "epoch",
    "loss": "loss (cross-entropy, nats)",
    "acc": "accuracy",
    "cer": "character error rate",
    "similarity": "similarity (0-1)",
    "seconds": "time per call (s)",
    "peak_bytes": "peak memory (bytes)",
    "length": "sequence length L (tokens)",
    "terms": "series terms K",
    "rel_error": "relative error",
}


@dataclass
class Series:
    """One line: (x, y) points sorted by x, and an optional band (low, high) per x."""

    label: str
    points: list[tuple[float, float]]
    band: list[tuple[float, float, float]] | None = None  # (x, low, high)
    column: str = ""  # the data column it comes from (its quantity and unit)

    @property
    def ys(self) -> list[float]:
        """The y values in x order."""
        return [y for _, y in self.points]


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return [n for n in names if n not in BOOKKEEPING]


def _categories(rows: Sequence[Mapping[str, Any]], skip: set[str]) -> list[str]:
    """Columns holding text (not numbers): what the rows are grouped by."""
    return [
        name
        for name in _columns(rows)
        if name not in skip
        and any(number(r.get(name)) is None and r.get(name) for r in rows)
    ]


def rows_series(
    rows: Sequence[Mapping[str, Any]], x: str | None, ys: Sequence[str] | None
) -> list[Series] | None:
    """Series of the rows: one per y column and category; None when x is text."""
    values = list(ys) if ys else None
    cats = _categories(rows, {x} if x else set())
    values = values or [c for c in _columns(rows) if c != x and c not in cats]
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(str(row.get(c, "")) for c in cats), []).append(row)
    out = []
    for key, members in groups.items():
        for y in values:
            curve = points(members, x, y)
            if curve is None:
                return None
            if not curve:
                continue
            name = " ".join(k for k in key if k)
            label = (
                name if name and len(values) == 1 else " ".join(filter(None, [name, y]))
            )
            out.append(Series(label, curve, column=y))
    return out


def fold_bands(series: Sequence[Series]) -> list[Series]:
    """X, X_min and X_max as X with a band (X's points where both bounds exist)."""
    by_label = {s.label: s for s in series}
    used: set[str] = set()
    out = []
    for s in series:
        for lo_suffix, hi_suffix in BAND_SUFFIXES:
            lo, hi = (
                by_label.get(s.label + lo_suffix),
                by_label.get(s.label + hi_suffix),
            )
            if lo is None or hi is None:
                continue
            lows, highs = dict(lo.points), dict(hi.points)
            s = Series(
                s.label,
                s.points,
                [
                    (x, lows[x], highs[x])
                    for x, _ in s.points
                    if x in lows and x in highs
                ],
            )
            used.update({lo.label, hi.label})
            break
        out.append(s)
    return [s for s in out if s.label not in used]


def _relabel(labelled: list[tuple[str, Series]]) -> list[Series]:
    """Labels that repeat across files get the file's folder (train/loss, val/loss)."""
    counts = Counter(s.label for _, s in labelled)
    out = []
    for file, s in labelled:
        if counts[s.label] > 1:
            label = f"{PurePosixPath(file).parent.name}/{s.label}"
            s = Series(label, s.points, s.band, s.column)
        out.append(s)
    return out


def spec_series(spec: PlotSpec, read: Any) -> list[Series] | None:
    """A plot's series at one revision (`read(path)` gives bytes or None); None
    when the plot is not made of curves (images, confusion, text x)."""
    if spec.whole:
        return None
    labelled = []
    for source in spec.sources:
        raw = read(source.file)
        if raw is None:
            continue
        series = rows_series(parse_rows(source.file, raw), source.x, source.ys)
        if series is None:
            return None
        labelled += [(source.file, s) for s in series]
    return fold_bands(_relabel(labelled))


def plot_props(dvc_yaml: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """dvc.yaml's top-level plots' properties (title, x_label, y_label, ...)."""
    out = {}
    plots = dvc_yaml.get("plots")
    for entry in plots if isinstance(plots, list) else []:
        if isinstance(entry, dict) and len(entry) == 1:
            ((name, props),) = entry.items()
            out[str(name)] = props if isinstance(props, dict) else {}
    return out


def axis_title(columns: Sequence[str]) -> str:
    """An axis title for the columns drawn on it (AXIS_TITLES, else the names)."""
    titles = [AXIS_TITLES.get(c, c.replace("_", " ")) for c in columns]
    return " / ".join(dict.fromkeys(titles))


def axis_titles(
    spec: PlotSpec, props: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """(x, y) axis titles: the plot's own x_label / y_label, else from its columns."""
    props = props or {}
    xs = [s.x for s in spec.sources if s.x]
    ys = [y for s in spec.sources for y in (s.ys or ())]
    ys = [y for y in ys if not y.endswith(tuple(b for p in BAND_SUFFIXES for b in p))]
    x_title = props.get("x_label") or axis_title(xs or ["row"])
    y_title = props.get("y_label") or axis_title(ys or ["value"])
    return str(x_title), str(y_title)

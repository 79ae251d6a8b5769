"""The plots dvc.yaml declares, read at two revisions: each curve once, series apart.

The PR comment used to parse `dvc plots diff --json`, which lists a dvclive curve
twice (under the stage's plot folder and under the top-level plot naming it),
puts the rows of several files that share a column name into one series (the
train and validation `loss` alternated in one sparkline) and invents a
`dvc_inferred_y_value` series for plots over differently named columns. Reading
the definitions and the data files directly keeps each (file, column) its own
series under the name the user gave the plot, and writes nothing to the repository.
A file in long format (a row per x and per value of a text column, as the attention
benchmark's `method`) gives one series per value of that column.
"""

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from hw2.core.errors import DataError
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline.dvc import RevisionFiles

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
# Templates whose data is not a curve (DVC's confusion and confusion_normalized,
# the project's confusion_share): compared as a whole.
WHOLE_TEMPLATE_PART = "confusion"
# dvclive's bookkeeping columns: never a series of their own.
BOOKKEEPING = ("step", "timestamp")


@dataclass(frozen=True)
class Source:
    """Columns `ys` of `file` against column `x` (None: the row number)."""

    file: str
    x: str | None
    ys: tuple[str, ...] | None  # None: every value column of the file


@dataclass(frozen=True)
class PlotSpec:
    """One plot: the user's name for it and the files it draws."""

    name: str
    sources: tuple[Source, ...]
    whole: bool = False  # images and confusion matrices: changed or not, no curves


@dataclass
class Curve:
    """One series of a plot at both revisions, as (x, y) points sorted by x."""

    label: str
    base: list[tuple[float, float]]
    head: list[tuple[float, float]]

    @property
    def changed(self) -> bool:
        """Whether the points differ between the revisions."""
        return self.base != self.head


@dataclass
class PlotData:
    """A plot's status between the revisions and its curves (none when whole)."""

    spec: PlotSpec
    status: str  # new, removed, changed or unchanged
    curves: list[Curve] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The plot's name as dvc.yaml gives it."""
        return self.spec.name


def _columns(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _x_for(x: Any, file: str) -> str | None:
    if isinstance(x, dict):  # `x: {file: column}`
        value = x.get(file)
        return None if value is None else str(value)
    return None if x is None else str(x)


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def _is_whole(props: dict[str, Any], path: str) -> bool:
    return WHOLE_TEMPLATE_PART in str(props.get("template") or "") or _is_image(path)


def _entry(entry: Any) -> tuple[str, dict[str, Any]] | None:
    """(name, properties) of a plots list entry: `path` or `{name: {...}}`."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and len(entry) == 1:
        ((name, props),) = entry.items()
        return str(name), props if isinstance(props, dict) else {}
    return None


def top_level_specs(plots: Any) -> list[PlotSpec]:
    """Specs of dvc.yaml's top-level `plots:` list (the user's named plots)."""
    specs = []
    for raw in plots if isinstance(plots, list) else []:
        entry = _entry(raw)
        if entry is None:
            continue
        name, props = entry
        x, y = props.get("x"), props.get("y")
        if isinstance(y, dict):  # `y: {file: column(s)}`: a named plot of files
            sources = tuple(
                Source(str(f), _x_for(x, str(f)), _columns(cols))
                for f, cols in y.items()
            )
        else:  # the name is the file
            sources = (Source(name, _x_for(x, name), _columns(y)),)
        whole = _is_whole(props, name)
        specs.append(PlotSpec(name, sources, whole))
    return specs


def plot_specs(
    dvc_yaml: Mapping[str, Any], list_files: Callable[[str], list[str]]
) -> list[PlotSpec]:
    """Every plot of dvc.yaml once: the top-level plots, then the stages' plot
    files that no top-level plot draws, each under its path.

    `list_files(path)` expands a stage's plot folder into its files.
    """
    specs = top_level_specs(dvc_yaml.get("plots"))
    covered = {s.file for spec in specs for s in spec.sources}
    stages = dvc_yaml.get("stages")
    for stage in stages.values() if isinstance(stages, dict) else []:
        raw_plots = stage.get("plots") if isinstance(stage, dict) else None
        for raw in raw_plots if isinstance(raw_plots, list) else []:
            entry = _entry(raw)
            if entry is None:
                continue
            path, props = entry
            for file in list_files(path):
                if file in covered:
                    continue
                covered.add(file)
                whole = _is_whole(props, file)
                ys = None if whole else _columns(props.get("y"))
                source = Source(file, _x_for(props.get("x"), file), ys)
                specs.append(PlotSpec(file, (source,), whole))
    return specs


def parse_rows(path: str, data: bytes) -> list[dict[str, Any]]:
    """The rows of a plot data file (TSV, CSV, JSON or YAML) as mappings."""
    suffix = PurePosixPath(path).suffix.lower()
    try:
        text = data.decode()
        if suffix in (".tsv", ".csv"):
            delimiter = "\t" if suffix == ".tsv" else ","
            return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
        tree = json.loads(text) if suffix == ".json" else parse_yaml(text)
    except (UnicodeDecodeError, csv.Error, ValueError, YAMLError) as exc:
        raise DataError(f"{path}: cannot read plot data ({exc})") from exc
    if isinstance(tree, dict):  # DVC draws the first list of rows in a mapping
        tree = next((v for v in tree.values() if isinstance(v, list)), [])
    return [row for row in tree or [] if isinstance(row, dict)]


def number(value: Any) -> float | None:
    """A cell as a float; None for text, booleans and empty cells."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _value_columns(rows: list[dict[str, Any]], x: str | None) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return [n for n in names if n != x and n not in BOOKKEEPING]


def points(
    rows: list[dict[str, Any]], x: str | None, y: str
) -> list[tuple[float, float]] | None:
    """(x, y) pairs sorted by x; None when x is not numeric (not a curve)."""
    out = []
    for i, row in enumerate(rows):
        xv = float(i) if x is None else number(row.get(x))
        if xv is None:
            return None
        yv = number(row.get(y))
        if yv is not None:
            out.append((xv, yv))
    return sorted(out)


def _groups(
    rows: list[dict[str, Any]], skip: set[str]
) -> list[tuple[tuple[str, ...], list[int]]]:
    """The rows' indices by the values of their text columns (those outside `skip`
    with a value that is not a number), in order of appearance; [((), all)] when
    there is none."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    text = [
        n
        for n in names
        if n not in skip
        and n not in BOOKKEEPING
        and any(number(row.get(n)) is None for row in rows if n in row)
    ]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(tuple(str(row.get(n)) for n in text), []).append(i)
    return list(groups.items()) or [((), [])]


def _labels(keys: list[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """Series labels: the column, or folder/column where files share a column, then
    the text values of a long file's rows in brackets."""
    pairs = list(dict.fromkeys((f, y) for f, y, _ in keys))
    counts = Counter(y for _, y in pairs)
    first = {
        (f, y): y if counts[y] == 1 else f"{PurePosixPath(f).parent.name}/{y}"
        for f, y in pairs
    }
    again = Counter(first.values())
    names = {
        p: lab if again[lab] == 1 else f"{p[0]}: {p[1]}" for p, lab in first.items()
    }
    return [f"{names[f, y]} ({', '.join(g)})" if g else names[f, y] for f, y, g in keys]


def plot_status(raw_b: list[bytes | None], raw_h: list[bytes | None]) -> str:
    """new, removed, unchanged or changed: a plot's files at two revisions."""
    if all(r is None for r in raw_b):
        return "new"
    if all(r is None for r in raw_h):
        return "removed"
    return "unchanged" if raw_b == raw_h else "changed"


def load_plot(spec: PlotSpec, base: RevisionFiles, head: RevisionFiles) -> PlotData:
    """The plot's data at both revisions: status, and its curves unless whole."""
    raw_b = [base.read_bytes(s.file) for s in spec.sources]
    raw_h = [head.read_bytes(s.file) for s in spec.sources]
    plot = PlotData(spec, plot_status(raw_b, raw_h))
    if spec.whole:
        return plot
    keys, pairs = [], []
    for source, b, h in zip(spec.sources, raw_b, raw_h, strict=True):
        rows_b = parse_rows(source.file, b) if b is not None else []
        rows_h = parse_rows(source.file, h) if h is not None else []
        ys = source.ys or _value_columns(rows_b + rows_h, source.x)
        skip = {source.x or "", *ys}
        both = rows_b + rows_h
        for group, index in _groups(both, skip):
            part_b = [both[i] for i in index if i < len(rows_b)]
            part_h = [both[i] for i in index if i >= len(rows_b)]
            for y in ys:
                pb, ph = points(part_b, source.x, y), points(part_h, source.x, y)
                if pb is None or ph is None:  # categorical x: compared as a whole
                    return plot
                keys.append((source.file, y, group))
                pairs.append((pb, ph))
    plot.curves = [
        Curve(label, pb, ph)
        for label, (pb, ph) in zip(_labels(keys), pairs, strict=True)
    ]
    return plot


def load_plots(dvc_yaml: Mapping[str, Any], base: RevisionFiles, head: RevisionFiles):
    """Every plot of `dvc_yaml` (the head's) read at both revisions."""

    def list_files(path: str) -> list[str]:
        return sorted(set(base.files(path)) | set(head.files(path)))

    return [load_plot(spec, base, head) for spec in plot_specs(dvc_yaml, list_files)]

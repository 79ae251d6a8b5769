"""A pull-request comment a reviewer reads at a glance, and `make diff` prints.

The workspace (the branch after `dvc repro`) against a base revision:

1. warnings first: other data on the two sides (any `data.*` param, or the
   data's recorded shape), a committed dvc.lock that does not match its code
   (hw2.pipeline.checks);
2. the headline metric of each study, each with its direction (better / worse,
   from hw2.pipeline.catalog) and its noise label (hw2.pipeline.compare); the
   other metrics that changed folded below;
3. the params that changed (`dvc params diff`);
4. the changed plots as pictures, base and branch in one chart each (a colour
   per revision), with the curves' last values folded below.

The same blocks are written as GitHub Markdown (the comment; CI posts it with
CML, which uploads the pictures) or as terminal text (`make diff`).
"""

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw2.core.errors import DataError
from hw2.core.io import atomic_dir
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline import dvc
from hw2.pipeline.catalog import (
    ASR_JSON,
    DATA_OF,
    DATA_SHAPE,
    Metric,
    describe,
    scale_for,
    short,
)
from hw2.pipeline.checks import comment_warnings, data_changes
from hw2.pipeline.compare import (
    BEYOND,
    Change,
    Value,
    compare,
    metric_paths,
    read_metrics,
    seed_match,
    seed_records,
    split_headlines,
)
from hw2.pipeline.document import (
    Alert,
    Block,
    Folded,
    Heading,
    Image,
    Marker,
    Note,
    Para,
    Table,
    to_markdown,
    to_text,
)
from hw2.pipeline.dvc import RevisionFiles
from hw2.pipeline.figures import revision_figure
from hw2.pipeline.plots import PlotSpec, plot_specs, plot_status
from hw2.pipeline.seed_record import Match, stale_warning
from hw2.pipeline.series import Series, axis_titles, plot_props, spec_series

MARKER = "hw2-dvc-pr-comment"
SPARKS = "▁▂▃▄▅▆▇█"
MAX_SPARK = 24
NOISE_RULE = (
    "± is the standard deviation over training seeds; [lo, hi] a 95 % interval "
    "(over seeds and test items for a metric with several seeds, over the test "
    "items of one training run otherwise, widened by the seed spread `make "
    "homework` measured when its record matches the run: √(clip² + (1.96·std)²) "
    "a side). **within noise**: |Δ| ≤ √(a² + b²), a and b the two sides' 95 % "
    "half-widths; **beyond noise**: larger, both sides' noise including seeds; "
    "**noise unknown: one seed**: larger than one run's interval, which leaves "
    "out run-to-run noise; **different data**: see the warning; **no "
    "interval**: nothing to judge by. Changes are listed when they show at the "
    "printed precision."
)


def _value_text(v: Value | None, change: Change) -> str:
    if v is None:
        return "–"
    scale = change.scale
    text = scale.text(v.value)
    if v.std is not None:
        text += f" ± {scale.text(v.std)}"
    if v.has_interval:
        text += f" [{scale.text(v.low)}, {scale.text(v.high)}]"
    return text


def _delta_text(change: Change) -> str:
    if change.old is None or change.new is None or not change.changed:
        return "–"
    return change.scale.delta(change.old.value, change.new.value)


def _verdict_text(change: Change) -> str:
    return f"**{change.label}**" if change.verdict == BEYOND else change.label


def metric_row(change: Change, first: Sequence[str]) -> list[str]:
    """Cells: `first`, base, this PR, change, direction, noise."""
    cells = [_value_text(change.old, change), _value_text(change.new, change)]
    direction = change.direction or "–"
    return [*first, *cells, _delta_text(change), direction, _verdict_text(change)]


def _label(change: Change) -> str:
    metric = change.metric
    return metric.label if metric.label != metric.key else f"`{change.key}`"


def metrics_blocks(
    changes: Sequence[Change], base: str, headlines: Sequence[Metric] | None = None
) -> list[Block]:
    """The headline table, then the other changed metrics folded."""
    heads, rest = split_headlines(changes, headlines)
    cols = [f"`{base}`", "this PR", "change", "direction", "noise"]
    blocks: list[Block] = [Heading("Metrics")]
    if heads:
        rows = [metric_row(c, [_label(c)]) for c in heads]
        blocks.append(Table(["headline", *cols], rows))
    else:
        blocks.append(Para("*No headline metric in either revision.*"))
    moved = [c for c in rest if c.changed]
    if not moved:
        blocks.append(Para(f"*No other metric changed ({len(rest)} compared).*"))
        return blocks
    ways = Counter(c.direction for c in moved if c.direction)
    verdicts = Counter(c.verdict for c in moved)
    counts = "; ".join(
        ", ".join(f"{n} {what}" for what, n in tally.most_common())
        for tally in (ways, verdicts)
        if tally
    )
    summary = (
        f"{len(moved)} other metric{'s' * (len(moved) != 1)} changed ({counts}), "
        f"{len(rest) - len(moved)} unchanged"
    )
    rows = [metric_row(c, [f"`{c.path}`", _label(c)]) for c in moved]
    blocks.append(Folded(summary, [Table(["file", "metric", *cols], rows)]))
    return blocks


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int | float):
        return short(float(value))
    return str(value)


def params_blocks(diff: Mapping[str, Any]) -> list[Block]:
    """The params that changed, from `dvc params diff --json`."""
    rows = []
    for file, params in (diff or {}).items():
        for key, values in (params or {}).items():
            if isinstance(values, dict):
                old, new = values.get("old"), values.get("new")
                rows.append([file, f"`{key}`", _shown(old), _shown(new)])
    if not rows:
        return [Heading("Params"), Para("*No param changed.*")]
    return [Heading("Params"), Table(["file", "param", "base", "this PR"], rows)]


def sparkline(values: Sequence[float], low: float, high: float) -> str:
    """Values as block characters scaled to [low, high], at most MAX_SPARK of them."""
    if not values:
        return ""
    if len(values) > MAX_SPARK:
        step = (len(values) - 1) / (MAX_SPARK - 1)
        values = [values[round(i * step)] for i in range(MAX_SPARK)]
    span = high - low
    top = len(SPARKS) - 1
    return "".join(
        SPARKS[round((v - low) / span * top) if span > 0 else top // 2] for v in values
    )


@dataclass
class PlotChange:
    """One plot of dvc.yaml at both revisions: its status and series."""

    spec: PlotSpec
    status: str  # new, removed, changed or unchanged
    base: list[Series] | None  # None: not curves (an image, a confusion matrix)
    head: list[Series] | None

    @property
    def name(self) -> str:
        """The plot's name in dvc.yaml."""
        return self.spec.name

    def changed_series(self) -> list[tuple[str, Series | None, Series | None]]:
        """(label, base, head) of each series whose points or band differ."""
        old = {s.label: s for s in self.base or []}
        new = {s.label: s for s in self.head or []}
        out = []
        for label in dict.fromkeys([*new, *old]):
            a, b = old.get(label), new.get(label)
            if a is None or b is None or (a.points, a.band) != (b.points, b.band):
                out.append((label, a, b))
        return out


def load_plot_changes(
    dvc_yaml: Mapping[str, Any], base: RevisionFiles, head: RevisionFiles
) -> list[PlotChange]:
    """Every plot of dvc.yaml (the head's) at both revisions, each curve once."""

    def list_files(path: str) -> list[str]:
        return sorted(set(base.files(path)) | set(head.files(path)))

    out = []
    for spec in plot_specs(dvc_yaml, list_files):
        raw_b = [base.read_bytes(s.file) for s in spec.sources]
        raw_h = [head.read_bytes(s.file) for s in spec.sources]
        status = plot_status(raw_b, raw_h)
        series_b = spec_series(spec, base.read_bytes)
        series_h = spec_series(spec, head.read_bytes)
        out.append(PlotChange(spec, status, series_b, series_h))
    return out


def curve_row(plot: str, label: str, old: Series | None, new: Series | None) -> list:
    """Last values, change and both sparklines (one scale) of a series."""
    ys = [y for s in (old, new) if s for y in s.ys] or [0.0]
    last_b = old.ys[-1] if old and old.ys else None
    last_h = new.ys[-1] if new and new.ys else None
    column = (new or old).column if (new or old) else label
    unit = describe("", column or label).unit
    scale = scale_for([v for v in (last_b, last_h) if v is not None], unit)
    change = "–" if last_b is None or last_h is None else scale.delta(last_b, last_h)
    sparks = [sparkline(s.ys, min(ys), max(ys)) if s else "–" for s in (old, new)]
    shown = ["–" if v is None else scale.text(v) for v in (last_b, last_h)]
    return [plot, label, *shown, change, *sparks]


def slug(name: str) -> str:
    """A file name for a plot name."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "plot"


def plots_blocks(
    plots: Sequence[PlotChange],
    base: str,
    props: Mapping[str, Mapping[str, Any]],
    plots_dir: Path | None,
    link_dir: Path,
) -> list[Block]:
    """Pictures of the changed plots (when plots_dir is given), their curves'
    last values folded, other changed plots by name, unchanged ones counted."""
    blocks: list[Block] = [Heading("Plots")]
    if not plots:
        return blocks + [Para("*No plots declared in dvc.yaml.*")]
    moved = [p for p in plots if p.status != "unchanged"]
    drawn = [p for p in moved if p.changed_series()]
    if not moved:
        blocks.append(Para("*No plot changed.*"))
    if drawn and plots_dir is not None:
        with atomic_dir(plots_dir) as tmp:
            for p in drawn:
                title = str(props.get(p.name, {}).get("title") or p.name)
                epoch = all(s.x == "step" for s in p.spec.sources)
                revisions = [(base, p.base or []), ("this PR", p.head or [])]
                axes = axis_titles(p.spec, props.get(p.name))
                revision_figure(
                    tmp / f"{slug(p.name)}.png", title, axes, revisions, epoch
                )
        for p in drawn:
            target = Path(os.path.relpath(plots_dir / f"{slug(p.name)}.png", link_dir))
            blocks.append(
                Image(f"{p.name}: {base} (blue) vs this PR (orange)", target.as_posix())
            )
    rows = [curve_row(p.name, *c) for p in drawn for c in p.changed_series()]
    if rows:
        header = ["plot", "series", f"`{base}` last", "this PR last", "change"]
        header += [f"`{base}`", "this PR"]
        summary = (
            f"Last values of the {len(rows)} changed curve{'s' * (len(rows) != 1)}"
        )
        blocks.append(Folded(summary, [Table(header, rows)]))
    others = [p for p in moved if not p.changed_series()]
    if others:
        names = ", ".join(f"`{p.name}` ({p.status})" for p in others)
        blocks.append(Para(f"Also changed: {names}."))
    same = [p for p in plots if p.status == "unchanged"]
    if same:
        names = ", ".join(f"`{p.name}`" for p in same)
        blocks.append(Para(f"Unchanged: {names}."))
    return blocks


def record_warnings(noise: Mapping[str, Match], base: str) -> list[str]:
    """One line per stale reason of the seed record: the sides it does not
    describe (`base` named as code)."""
    stale: dict[str, list[str]] = {}
    for side, found in noise.items():
        if found.stale:
            stale.setdefault(found.stale, []).append(
                f"`{side}`" if side == base else side
            )
    return [stale_warning(" and ".join(sides), why) for why, sides in stale.items()]


def _dvc_yaml(files: RevisionFiles) -> dict[str, Any]:
    data = files.read_bytes("dvc.yaml")
    if data is None:
        return {}
    try:
        tree = parse_yaml(data.decode())
    except (UnicodeDecodeError, YAMLError) as exc:
        where = files.rev or "the workspace"
        raise DataError(f"dvc.yaml ({where}): cannot read ({exc})") from exc
    return tree if isinstance(tree, dict) else {}


def comment_blocks(
    base: str,
    root: str | Path = ".",
    plots_dir: str | Path | None = None,
    link_dir: str | Path | None = None,
    headlines: Sequence[Metric] | None = None,
) -> list[Block]:
    """The comment's blocks: the workspace against `base`. PNGs go to
    `plots_dir` (under root), linked relative to `link_dir` (default root)."""
    root = Path(root)
    dvc.check_commit(base, root)
    old, new = RevisionFiles(root, base), RevisionFiles(root)
    old_yaml, new_yaml = _dvc_yaml(old), _dvc_yaml(new)
    paths = list(dict.fromkeys(metric_paths(new_yaml) + metric_paths(old_yaml)))
    # what the data stages recorded about the data is the warning's, not a result
    paths = [p for p in paths if p not in DATA_SHAPE.values()]
    data = data_changes(root, base)
    moved = {p for p, branch in DATA_OF.items() if branch in {d.branch for d in data}}
    records = seed_records(new, old)
    noise = {base: seed_match(old, records), "this branch": seed_match(new, records)}
    changes = compare(
        read_metrics(old, paths, {ASR_JSON: noise[base]}),
        read_metrics(new, paths, {ASR_JSON: noise["this branch"]}),
        moved,
    )
    params = dvc.run_json(["dvc", "params", "diff", base, "--json"], root)
    blocks: list[Block] = [
        Marker(MARKER),
        Heading(f"DVC: this pull request against `{base}`", 2),
        Para(
            "The results of this branch's workspace (after `dvc repro`) against "
            f"those committed at `{base}`."
        ),
    ]
    blocks += [Alert(w) for w in comment_warnings(root, base, data=data)]
    blocks += [Alert(w) for w in record_warnings(noise, base)]
    blocks += metrics_blocks(changes, base, headlines)
    blocks += params_blocks(params if isinstance(params, dict) else {})
    out_dir = None if plots_dir is None else root / plots_dir
    link = root if link_dir is None else Path(link_dir)
    plots = load_plot_changes(new_yaml, old, new)
    blocks += plots_blocks(plots, base, plot_props(new_yaml), out_dir, link)
    blocks.append(Note(NOISE_RULE))
    return blocks


def build_comment(
    base: str,
    root: str | Path = ".",
    plots_dir: str | Path | None = None,
    link_dir: str | Path | None = None,
    fmt: str = "markdown",
    headlines: Sequence[Metric] | None = None,
) -> str:
    """The comment as Markdown (fmt="markdown") or terminal text (fmt="text")."""
    blocks = comment_blocks(base, root, plots_dir, link_dir, headlines)
    return to_text(blocks) if fmt == "text" else to_markdown(blocks)

"""A pull-request comment a reviewer reads at a glance, and `make diff` prints.

The workspace (the branch after `dvc repro`) against a base revision: the headline
metrics of each study first, labelled within or beyond noise (hw2.pipeline.compare),
the other changed metrics folded away, the params that changed (`dvc params diff`),
and one row per changed curve (last values and sparklines; hw2.pipeline.plots).
Its length depends on what changed, not on how many metrics and plots exist.
"""

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hw2.core.errors import DataError
from hw2.core.io import atomic_dir
from hw2.pipeline import dvc
from hw2.pipeline.checks import comment_warnings
from hw2.pipeline.compare import (
    HEADLINES,
    SIGNIFICANT_DIGITS,
    Change,
    Headline,
    Value,
    compare,
    metric_paths,
    read_metrics,
    rounded,
    split_headlines,
)
from hw2.pipeline.dvc import RevisionFiles
from hw2.pipeline.figures import pyplot, save_figure
from hw2.pipeline.plots import Curve, PlotData, load_plots
from hw2.pipeline.runs import cell, markdown_table

MARKER = "<!-- hw2-dvc-pr-comment -->"
SPARKS = "▁▂▃▄▅▆▇█"
MAX_SPARK = 24
# Curve rows shown before the rest is folded into a <details> block.
MAX_CURVE_ROWS = 6
NOISE_RULE = (
    "A change is listed when it shows at the reported precision (whole numbers "
    f"in full, others to {SIGNIFICANT_DIGITS} significant digits). It is **beyond "
    "noise** when |Δ| > "
    "√(a² + b²), a and b the two sides' 95% half-widths (from `X_ci95`, or "
    "1.96·`X_std`/√seeds); a side without an interval borrows the other's; "
    "*no interval*: neither side has one."
)


def diff_table(markdown: str) -> str | None:
    """DVC's --md diff table, or None when it has a header and no rows."""
    lines = [line for line in markdown.strip().splitlines() if line.startswith("|")]
    return "\n".join(lines) if len(lines) > 2 else None


def _value(v: Value | None) -> str:
    if v is None:
        return "–"
    text = rounded(v.value)
    if v.low is not None and v.high is not None and v.high > v.low:
        text += f" ± {(v.high - v.low) / 2:.2g}"
    return text


def _delta(change: Change) -> str:
    d = change.delta
    return "–" if d is None or not change.changed else f"{d:+.{SIGNIFICANT_DIGITS}g}"


def _verdict(change: Change) -> str:
    verdict = change.verdict
    return f"**{verdict}**" if verdict == "beyond noise" else verdict


def _row(first: Sequence[str], change: Change) -> list[str]:
    cells = [_value(change.old), _value(change.new), _delta(change)]
    return [*first, *cells, _verdict(change)]


def metrics_section(
    changes: Sequence[Change], base: str, headlines: Sequence[Headline] = HEADLINES
) -> list[str]:
    """The headline table, then the other changed metrics in a <details> block."""
    heads, rest = split_headlines(changes, headlines)
    cols = [f"`{base}`", "this PR", "change", "noise"]
    lines = ["### Metrics", ""]
    if heads:
        rows = [_row([label], c) for label, c in heads]
        lines += [markdown_table(["headline", *cols], rows), ""]
    else:
        lines += ["_No headline metric in either revision._", ""]
    moved = [c for c in rest if c.changed]
    if not moved:
        lines += [f"_No other metric changed ({len(rest)} compared)._", ""]
        return lines
    verdicts = Counter(c.verdict for c in moved)
    counts = ", ".join(f"{n} {v}" for v, n in verdicts.most_common())
    summary = (
        f"{len(moved)} other metric{'s' * (len(moved) != 1)} changed ({counts}); "
        f"{len(rest) - len(moved)} unchanged"
    )
    rows = [_row([f"`{cell(c.path)}`", cell(c.key)], c) for c in moved]
    lines += [f"<details><summary>{summary}</summary>", ""]
    lines += [markdown_table(["file", "metric", *cols], rows), "", "</details>", ""]
    return lines


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


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def curve_row(plot: str, curve: Curve) -> list[str]:
    """Last values, change and both sparklines (one scale) of a curve."""
    ys = [y for _, y in curve.base + curve.head] or [0.0]
    last_b = curve.base[-1][1] if curve.base else None
    last_h = curve.head[-1][1] if curve.head else None
    change = "–" if last_b is None or last_h is None else f"{last_h - last_b:+.4g}"
    sparks = [
        sparkline([y for _, y in pts], min(ys), max(ys)) or "–"
        for pts in (curve.base, curve.head)
    ]
    return [cell(plot), cell(curve.label), _fmt(last_b), _fmt(last_h), change, *sparks]


def slug(name: str) -> str:
    """A file name for a plot name."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "plot"


def plot_png(plot: PlotData, base_label: str, path: Path) -> None:
    """Base (dashed) vs head (solid) curves of one plot, one colour per series."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, curve in enumerate(plot.curves):
        for label, pts, style in [
            (base_label, curve.base, "--"),
            ("this PR", curve.head, "-"),
        ]:
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(
                    xs,
                    ys,
                    style,
                    color=f"C{i}",
                    marker="o",
                    ms=3,
                    label=f"{curve.label} ({label})",
                )
    ax.set_title(plot.name, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plots_section(
    plots: Sequence[PlotData],
    base: str,
    plots_dir: Path | None,
    artifact_url: str | None,
) -> list[str]:
    """Changed curves as rows (the first few shown), other changed plots by name,
    the unchanged ones counted."""
    lines = ["### Plots", ""]
    if not plots:
        return lines + ["_No plots declared in dvc.yaml._", ""]
    moved = [p for p in plots if p.status != "unchanged"]
    rows = [curve_row(p.name, c) for p in moved for c in p.curves if c.changed]
    header = ["plot", "series", f"`{base}` last", "this PR last", "change"]
    header += [f"`{base}`", "this PR"]
    if rows:
        lines += [markdown_table(header, rows[:MAX_CURVE_ROWS]), ""]
    if rows[MAX_CURVE_ROWS:]:
        more = rows[MAX_CURVE_ROWS:]
        lines += [f"<details><summary>{len(more)} more curves changed</summary>", ""]
        lines += [markdown_table(header, more), "", "</details>", ""]
    others = [p for p in moved if not p.curves]
    if others:
        names = ", ".join(f"`{cell(p.name)}` ({p.status})" for p in others)
        lines += [f"Also changed: {names}.", ""]
    if not moved:
        lines += ["_No plot changed._", ""]
    same = [p for p in plots if p.status == "unchanged"]
    if same:
        names = ", ".join(f"`{cell(p.name)}`" for p in same)
        plural = "s" * (len(same) != 1)
        lines += [f"<details><summary>{len(same)} plot{plural} unchanged</summary>", ""]
        lines += [names, "", "</details>", ""]
    with_curves = [p for p in moved if any(c.changed for c in p.curves)]
    if plots_dir is not None and with_curves:
        with atomic_dir(plots_dir) as tmp:
            for p in with_curves:
                plot_png(p, base, tmp / f"{slug(p.name)}.png")
        where = (
            f"the [workflow run's artifacts]({artifact_url})"
            if artifact_url
            else f"`{plots_dir}`"
        )
        lines += [f"Base vs this PR as PNGs ({len(with_curves)}) in {where}.", ""]
    return lines


def _dvc_yaml(files: RevisionFiles) -> dict[str, Any]:
    data = files.read_bytes("dvc.yaml")
    if data is None:
        return {}
    try:
        tree = yaml.safe_load(data.decode())
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        where = files.rev or "the workspace"
        raise DataError(f"dvc.yaml ({where}): cannot read ({exc})") from exc
    return tree if isinstance(tree, dict) else {}


def build_comment(
    base: str,
    root: str | Path = ".",
    plots_dir: str | Path | None = None,
    artifact_url: str | None = None,
    headlines: Sequence[Headline] = HEADLINES,
) -> str:
    """The comment's Markdown: the workspace against `base` (plots_dir under root)."""
    root = Path(root)
    dvc.check_commit(base, root)
    old, new = RevisionFiles(root, base), RevisionFiles(root)
    old_yaml, new_yaml = _dvc_yaml(old), _dvc_yaml(new)
    paths = list(dict.fromkeys(metric_paths(new_yaml) + metric_paths(old_yaml)))
    changes = compare(read_metrics(old, paths), read_metrics(new, paths))
    params = diff_table(dvc.run(["dvc", "params", "diff", base, "--md"], root))
    lines = [
        MARKER,
        f"## DVC: this pull request against `{base}`",
        "",
        "The results of this branch's workspace (after `dvc repro`) against those "
        f"committed at `{base}`.",
        "",
        # hw2.pipeline.checks: other data at the base, or a stale dvc.lock
        *[f"> **Warning:** {w}\n" for w in comment_warnings(root, base)],
        "",
    ]
    lines += metrics_section(changes, base, headlines)
    lines += ["### Params", "", params or "_No param changed._", ""]
    out_dir = None if plots_dir is None else root / plots_dir
    lines += plots_section(load_plots(new_yaml, old, new), base, out_dir, artifact_url)
    lines += ["---", f"<sub>{NOISE_RULE}</sub>"]
    return "\n".join(lines).rstrip() + "\n"


def actions_run_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The GitHub Actions run's page (where its artifacts are), outside CI None."""
    parts = [environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY")]
    run_id = environ.get("GITHUB_RUN_ID")
    if not all(parts) or not run_id:
        return None
    return f"{parts[0]}/{parts[1]}/actions/runs/{run_id}"

"""A pull-request comment: what a change did to metrics, params and plots.

It compares the workspace (the branch after `dvc repro`) with a base revision using
`dvc metrics diff --md`, `dvc params diff --md` and `dvc plots diff --json`. A PR
comment cannot hold DVC's HTML plots, so changed curves become a compact table
(last values and a sparkline of each) and PNGs of base vs head for an artifact.
"""

import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw2.core.errors import DataError, Hw2Error
from hw2.core.io import atomic_dir, write_text
from hw2.pipeline.checks import comment_warnings
from hw2.pipeline.report import dvc_env, markdown_table, pyplot, save_figure

MARKER = "<!-- hw2-dvc-pr-comment -->"
HEAD = "workspace"  # DVC's name for the working tree in its diffs
# Columns of plot data that are neither the x axis nor a curve.
NOT_CURVES = {"rev", "step", "timestamp", "filename", "field"}
SPARKS = "▁▂▃▄▅▆▇█"
MAX_SPARK = 24


def run_command(args: Sequence[str], root: Path) -> str:
    """stdout of a git or dvc command in `root`; a failure is one Hw2Error line."""
    try:
        proc = subprocess.run(
            list(args), cwd=root, env=dvc_env(), capture_output=True, text=True
        )
    except OSError as exc:
        raise Hw2Error(f"`{args[0]}` could not run: {exc}") from exc
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        raise Hw2Error(f"`{' '.join(args)}` failed: {lines[-1]}")
    return proc.stdout


def check_revision(base: str, root: Path) -> None:
    """Refuse a base that is not a commit, before any slow dvc call."""
    try:
        run_command(
            ["git", "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], root
        )
    except Hw2Error as exc:
        raise Hw2Error(
            f"base revision {base!r} is not a commit here "
            "(in CI, check out with fetch-depth: 0)"
        ) from exc


def diff_table(markdown: str) -> str | None:
    """DVC's --md diff table, or None when it has a header and no rows."""
    lines = [line for line in markdown.strip().splitlines() if line.startswith("|")]
    return "\n".join(lines) if len(lines) > 2 else None


@dataclass
class PlotDiff:
    """One plot's data rows at the base and in the workspace (`rev` removed)."""

    name: str
    x: str | None
    base: list[dict[str, Any]]
    head: list[dict[str, Any]]

    @property
    def status(self) -> str:
        """new, removed, changed or unchanged."""
        if not self.base:
            return "new"
        if not self.head:
            return "removed"
        same = _multiset(self.base) == _multiset(self.head)
        return "unchanged" if same else "changed"


def _multiset(rows: list[dict[str, Any]]) -> Counter:
    return Counter(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)


def _plot_rows(entry: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    anchors = entry.get("anchor_definitions") or {}
    rows = anchors.get("<DVC_METRIC_DATA>")
    if rows is None:  # the unsplit form carries the rows inside the Vega spec
        content = entry.get("content")
        data = content.get("data") if isinstance(content, dict) else None
        rows = data.get("values") if isinstance(data, dict) else None
    label = anchors.get("<DVC_METRIC_X_LABEL>")
    return (rows if isinstance(rows, list) else []), label


def parse_plots_diff(obj: Any) -> list[PlotDiff]:
    """Plots from `dvc plots diff --json --split`, rows split into base and head.

    A plot declared twice (a file and a top-level plot over it) is kept once.
    """
    data = obj.get("data") if isinstance(obj, dict) else None
    plots, seen = [], set()
    for name, entries in (data or {}).items():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("type") != "vega":
                continue
            rows, label = _plot_rows(entry)
            rows = [r for r in rows if isinstance(r, dict)]
            keys = set().union(*rows) if rows else set()
            x = label if label in keys else ("step" if "step" in keys else None)
            base = [_strip(r) for r in rows if r.get("rev") != HEAD]
            head = [_strip(r) for r in rows if r.get("rev") == HEAD]
            signature = (
                x,
                frozenset(_multiset(base).items()),
                frozenset(_multiset(head).items()),
            )
            if signature not in seen:
                seen.add(signature)
                plots.append(PlotDiff(str(name), x, base, head))
    return plots


def _strip(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "rev"}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def curves(rows: list[dict[str, Any]], x: str) -> dict[str, list[tuple[float, float]]]:
    """Numeric columns as (x, y) points sorted by x; {} when x is not numeric."""
    out: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        xv = _number(row.get(x))
        if xv is None:
            return {}
        for key, value in row.items():
            yv = _number(value)
            if key != x and key not in NOT_CURVES and yv is not None:
                out.setdefault(key, []).append((xv, yv))
    return {k: sorted(v) for k, v in out.items()}


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


def _change(old: float | None, new: float | None) -> str:
    if old is None or new is None:
        return "–"
    return f"{new - old:+.4g}"


def curve_rows(plot: PlotDiff) -> list[list[str]]:
    """Table rows for a plot's curves: last values, change, sparklines."""
    if plot.x is None:
        return []
    base, head = curves(plot.base, plot.x), curves(plot.head, plot.x)
    rows = []
    for key in sorted(set(base) | set(head)):
        b, h = base.get(key, []), head.get(key, [])
        ys = [y for _, y in b + h]
        b_last = b[-1][1] if b else None
        h_last = h[-1][1] if h else None
        rows.append(
            [
                f"`{plot.name}`",
                key,
                _fmt(b_last),
                _fmt(h_last),
                _change(b_last, h_last),
                sparkline([y for _, y in b], min(ys), max(ys)) or "–",
                sparkline([y for _, y in h], min(ys), max(ys)) or "–",
            ]
        )
    return rows


def slug(name: str) -> str:
    """A file name for a plot id."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "plot"


def plot_png(plot: PlotDiff, base_label: str, path: Path) -> bool:
    """Base (dashed) vs head (solid) curves of one plot; False if not numeric."""
    if plot.x is None:
        return False
    base, head = curves(plot.base, plot.x), curves(plot.head, plot.x)
    if not base and not head:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, series, style in [(base_label, base, "--"), ("this PR", head, "-")]:
        for key, points in sorted(series.items()):
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, style, marker="o", ms=3, label=f"{key} ({label})")
    ax.set_title(plot.name, fontsize=9)
    ax.set_xlabel(plot.x)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def plots_section(
    plots: Sequence[PlotDiff],
    base: str,
    plots_dir: Path | None,
    artifact_url: str | None,
) -> list[str]:
    """Markdown lines for the plots: changed curves, other changes, unchanged."""
    moved = [p for p in plots if p.status != "unchanged"]
    same = [p for p in plots if p.status == "unchanged"]
    lines = ["### Plots", ""]
    if not plots:
        return lines + ["_No plots declared in dvc.yaml._", ""]
    rows = [row for p in moved for row in curve_rows(p)]
    if rows:
        header = ["plot", "curve", f"`{base}` last", "this PR last", "change"]
        header += [f"`{base}`", "this PR"]
        lines += [markdown_table(header, rows), ""]
    others = [p for p in moved if not curve_rows(p)]
    if others:
        items = ", ".join(f"`{p.name}` ({p.status})" for p in others)
        lines += [f"Other plots that moved: {items}.", ""]
    if not moved:
        lines += ["_No plot changed._", ""]
    if same:
        lines += ["Unchanged: " + ", ".join(f"`{p.name}`" for p in same) + ".", ""]
    if plots_dir is not None:
        written = []
        with atomic_dir(plots_dir) as tmp:
            for p in moved:
                if plot_png(p, base, tmp / f"{slug(p.name)}.png"):
                    written.append(f"{slug(p.name)}.png")
        if written:
            where = (
                f"the [workflow run's artifacts]({artifact_url})"
                if artifact_url
                else f"`{plots_dir}`"
            )
            lines += [
                f"Curves, base vs this PR, as PNG: {', '.join(written)} in {where}."
            ]
            lines += [""]
    return lines


def build_comment(
    base: str,
    root: str | Path = ".",
    plots_dir: str | Path | None = None,
    artifact_url: str | None = None,
    all_metrics: bool = False,
) -> str:
    """The comment's Markdown: the workspace against `base` (plots_dir under root)."""
    root = Path(root)
    check_revision(base, root)
    metrics_args = ["dvc", "metrics", "diff", base, "--md"]
    metrics = diff_table(run_command(metrics_args + ["--all"] * all_metrics, root))
    params = diff_table(run_command(["dvc", "params", "diff", base, "--md"], root))
    raw = run_command(["dvc", "plots", "diff", base, "--json", "--split"], root)
    try:
        plots = parse_plots_diff(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise DataError("`dvc plots diff --json` printed no JSON") from exc
    lines = [
        MARKER,
        f"## DVC: this pull request against `{base}`",
        "",
        "The pipeline's results in this branch's workspace (after `dvc repro`) "
        f"compared with those committed at `{base}`.",
        "",
        # hw2.pipeline.checks: other data at the base, or a stale dvc.lock
        *[f"> **Warning:** {w}\n" for w in comment_warnings(root, base)],
        "### Metrics",
        "",
        metrics or "_No metric changed._",
        "",
        "### Params",
        "",
        params or "_No param changed._",
        "",
    ]
    out_dir = None if plots_dir is None else root / plots_dir
    lines += plots_section(plots, base, out_dir, artifact_url)
    return "\n".join(lines).rstrip() + "\n"


def actions_run_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The GitHub Actions run's page (where its artifacts are), outside CI None."""
    parts = [environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY")]
    run_id = environ.get("GITHUB_RUN_ID")
    if not all(parts) or not run_id:
        return None
    return f"{parts[0]}/{parts[1]}/actions/runs/{run_id}"


def write_comment(out: str | Path, **kwargs: Any) -> Path:
    """build_comment(**kwargs) written atomically to `out`."""
    write_text(out, build_comment(**kwargs))
    return Path(out)

"""The pull-request comment (and `make diff`): the workspace against a base revision.

DVC gives the numbers (`dvc metrics diff`, `dvc params diff`, `dvc plots diff`);
the project adds the warnings, each metric's direction and noise verdict and a
picture of each changed plot (DVC's chart as a PNG by vl-convert). Markdown with
every quoted value escaped; CI posts it with CML, a terminal shows it with rich.
"""

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import vl_convert

from hw2.core.errors import Hw2Error
from hw2.core.io import atomic_dir
from hw2.pipeline import compare, dvc
from hw2.pipeline.catalog import ASR_JSON, DATA_OF, DATA_SHAPE, headlines, spread_text
from hw2.pipeline.checks import data_warnings, shown, stale_warnings
from hw2.pipeline.dvc import Revision
from hw2.pipeline.markdown import cell
from hw2.pipeline.runs import markdown_table
from hw2.pipeline.seed_record import stale_warning

MARKER = "hw2-dvc-pr-comment"
WORKSPACE = "workspace"  # DVC's name for it in `dvc plots diff`


def _row(c: compare.Change, *first: str) -> list[str]:
    label = c.metric.label if c.metric.label != c.metric.key else cell(c.key)
    both = c.changed and c.old and c.new
    delta = c.scale.delta(c.old.value, c.new.value) if both else "–"
    verdict = f"**{c.label}**" if c.verdict == compare.BEYOND else c.label
    sides = [
        "–" if v is None else spread_text(v.value, v.std, (v.low, v.high), c.scale)
        for v in (c.old, c.new)
    ]
    return [*first, label, *sides, delta, c.direction or "–", verdict]


def metrics_section(changes: Sequence[compare.Change], base: str) -> list:
    """The headline table, then the other changed metrics folded."""
    heads, rest = compare.split_headlines(changes)
    cols = [cell(base), "this PR", "change", "direction", "noise"]
    rows = [_row(c) for c in heads]
    none = "*No headline metric in either revision.*"
    out = ["### Metrics", markdown_table(rows, ["headline", *cols]) if heads else none]
    moved = [c for c in rest if c.changed]
    if not moved:
        return out + [f"*No other metric changed ({len(rest)} compared).*"]
    tallies = [Counter(c.direction for c in moved if c.direction)]
    tallies.append(Counter(c.verdict for c in moved))
    counts = "; ".join(
        ", ".join(f"{n} {what}" for what, n in t.most_common()) for t in tallies if t
    )
    summary = f"{len(moved)} other metric{'s' * (len(moved) != 1)} changed "
    summary += f"({counts}), {len(rest) - len(moved)} unchanged"
    rows = [_row(c, cell(c.path)) for c in moved]
    folded = markdown_table(rows, ["file", "metric", *cols])
    return out + [f"<details><summary>{summary}</summary>", folded, "</details>"]


def params_section(diff: dict[str, Any]) -> list[str]:
    """The params that changed, from `dvc params diff --json`."""
    rows = [
        [cell(file), cell(key), shown(v.get("old")), shown(v.get("new"))]
        for file, params in diff.items()
        for key, v in (params or {}).items()
    ]
    params = markdown_table(rows, ["file", "param", "base", "this PR"])
    return ["### Params", params if rows else "*No param changed.*"]


def plots_section(root: Path, base: str, plots_dir: Path | None, link: Path) -> list:
    """A picture (else the name) of each changed plot from `dvc plots diff --json`."""
    status, drawn = {}, []  # every changed plot is drawn with plots_dir
    with tempfile.TemporaryDirectory() as tmp:  # DVC copies image plots there
        out = dvc.run_json(["dvc", "plots", "diff", base, "--json", "-o", tmp], root)
        for name, entries in (out.get("data") or {}).items():
            if not entries:
                continue
            image = entries[0].get("type") == "image"
            if image:
                by_rev = {
                    e["revisions"][0]: Path(e["url"]).read_bytes() for e in entries
                }
            else:
                spec = entries[0]["content"]
                rows = pd.DataFrame(spec["data"]["values"]).groupby("rev")
                by_rev = {r: g.drop(columns="rev").to_dict("records") for r, g in rows}
            old, new = by_rev.get(base), by_rev.get(WORKSPACE)
            changed = "new" if old is None else "removed" if new is None else "changed"
            status[name] = "unchanged" if old == new else changed
            if status[name] != "unchanged" and plots_dir:
                # an image plot: this branch's (else the base's); a chart: DVC's
                # template with both revisions' rows, as a PNG
                if image:
                    drawn.append((f"{cell(name)}: this PR", new or old))
                else:
                    alt = f"{cell(name)}: {cell(base)} vs {WORKSPACE}"
                    drawn.append((alt, vl_convert.vegalite_to_png(spec)))
    out = ["### Plots"]
    if not status:
        return out + ["*No plots declared in dvc.yaml.*"]
    if drawn:
        with atomic_dir(plots_dir) as tmp_dir:
            for i, (alt, picture) in enumerate(drawn):
                (tmp_dir / f"{i}.png").write_bytes(picture)
                target = os.path.relpath(plots_dir / f"{i}.png", link)
                out.append(f"![{alt}]({Path(target).as_posix()})")
    # without pictures (no --plots-dir), the changed plots by name
    moved = [f"{cell(n)} ({s})" for n, s in status.items() if s != "unchanged"]
    same = [cell(n) for n, s in status.items() if s == "unchanged"]
    out += [f"Changed: {', '.join(moved)}."] if moved and not drawn else []
    return out + ([f"Unchanged: {', '.join(same)}."] if same else [])


def build_comment(base: str, root=".", plots_dir=None, link_dir=None) -> str:
    """The comment's Markdown: the workspace against `base`."""
    root = Path(root)
    dvc.check_commit(base, root)
    old, new = Revision(root, base), Revision(root)
    metrics = dvc.run_json(["dvc", "metrics", "diff", base, "--json", "--all"], root)
    params = dvc.run_json(["dvc", "params", "diff", base, "--json"], root)
    data = data_warnings(params, old, new)
    moved = {p for p, branch in DATA_OF.items() if branch in data}
    sides = (cell(base), "this branch")
    noise = dict(zip(sides, compare.seed_matches(old, new), strict=True))
    per_file = [{ASR_JSON: found} for found in noise.values()]
    # DVC lists the metrics files dvc.yaml declares (what the data are: the
    # warnings'); one it cannot read at a side (a dvc.lock it refuses) it skips
    # with a warning and exit status 0
    metrics = {p: v for p, v in metrics.items() if p not in DATA_SHAPE.values()}
    declared = set(metrics) | {m.path for m in headlines()}
    for side, files in (("old", old), ("new", new)):
        present = sorted(p for p in declared if files.read_bytes(p) is not None)
        values = [v.get(side) for keys in metrics.values() for v in keys.values()]
        if present and all(v is None for v in values):
            where = files.rev or "the workspace"
            raise Hw2Error(
                f"dvc metrics diff read none of {', '.join(present)} at {where} "
                "(a dvc.lock DVC refuses?): `dvc metrics diff -v` says why"
            )
    changes = compare.diff_changes(metrics, [old, new], per_file, moved)
    stale: dict[str | None, list[str]] = {}
    for side, found in noise.items():
        stale.setdefault(found.stale, []).append(side)
    warnings = [*data.values(), *stale_warnings(root, base)]
    warnings += [stale_warning(" and ".join(s), why) for why, s in stale.items() if why]
    out_dir = None if plots_dir is None else root / plots_dir
    link = root if link_dir is None else Path(link_dir)
    parts = [
        f"<!-- {MARKER} -->",
        f"## DVC: this pull request against {cell(base)}",
        "The results of this branch's workspace (after `dvc repro`) against "
        f"those committed at {cell(base)}.",
        *[f"> **Warning:** {w}" for w in warnings],
        *metrics_section(changes, base),
        *params_section(params),
        *plots_section(root, base, out_dir, link),
        f"<sub>{compare.NOISE_RULE}</sub>",
    ]
    return "\n\n".join(parts) + "\n"

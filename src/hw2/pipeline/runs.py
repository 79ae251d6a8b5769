"""Runs and their tables: the workspace and `dvc exp show`'s experiments.

A Run holds one set of params (flattened to dotted keys) and metrics (by file);
a Column picks one value out of it (a param, a metric, its std over seeds, its
95 % interval or its seed count). A Study names the params and columns of one of
the homework's studies; `group_runs` sorts a study's runs by what they varied
against the baseline, so runs over learning rates sit together, and runs over
decoders. File paths and metric names come from hw2.pipeline.catalog.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hw2.core.errors import DataError, Hw2Error
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline import dvc
from hw2.pipeline.catalog import (
    ASR_JSON,
    ASR_PLOTS,
    ASR_TRANSCRIPTS,
    ATTENTION_JSON,
    CI_SUFFIX,
    CNN_CLASSES,
    CNN_CONFUSION,
    CNN_DETAILS,
    CNN_JSON,
    CNN_PLOTS,
    SEEDS_KEY,
    SEEDS_SUFFIX,
    STD_SUFFIX,
    describe,
    scale_for,
)

__all__ = [  # the paths are re-exported for the tools that list them with runs
    "ASR_JSON",
    "ASR_PLOTS",
    "ASR_TRANSCRIPTS",
    "ATTENTION_JSON",
    "CNN_CLASSES",
    "CNN_CONFUSION",
    "CNN_JSON",
    "CNN_PLOTS",
]

# The ASR's test metrics, in the order the tables show them.
ASR_METRICS = ("cer", "wer", "jaccard", "cosine", "damerau_levenshtein", "loss")
CNN_METRICS = ("val_acc", "test_acc")


@dataclass(frozen=True)
class Column:
    """A table column: `key` (dotted) in params or in one metrics file.

    `kind` picks what of a metric: its value, `std` over seeds, `ci` (the 95 %
    interval) or `seeds` (how many training seeds stand behind it).
    """

    header: str
    source: str  # "params" or a metrics file path
    key: str
    kind: str = "value"

    @property
    def is_metric(self) -> bool:
        """Whether the column shows a metric rather than a param."""
        return self.source != "params"


def metric_columns(path: str, key: str, short: str, spread: bool) -> list[Column]:
    """A metric's value, and with `spread` its std over seeds and 95 % interval."""
    cols = [Column(short, path, key)]
    if spread:
        cols += [
            Column("± std", path, key, "std"),
            Column("95 % interval", path, key, "ci"),
        ]
    return cols


@dataclass(frozen=True)
class Study:
    """One study's runs: which params belong to it and what its tables show."""

    title: str
    metrics_file: str
    prefixes: tuple[str, ...]  # params that change its results (dotted prefixes)
    names: dict[str, str]  # short column names of its params
    columns: tuple[Column, ...]

    def owns(self, key: str) -> bool:
        """Whether a param belongs to this study."""
        return any(key == p or key.startswith(p + ".") for p in self.prefixes)

    def header(self, key: str) -> str:
        """A param's short column name."""
        return self.names.get(key, key)


CNN = Study(
    "CNN on OCTMNIST",
    CNN_JSON,
    ("lr", "cnn", "data.images"),
    {
        "lr": "lr",
        "cnn.maxpool": "max-pool",
        "data.images.source": "data",
        "cnn.seeds": "seeds",
    },
    (
        Column("seeds", CNN_JSON, "test_acc", "seeds"),
        *metric_columns(CNN_JSON, "val_acc", "val acc", spread=False),
        Column("± std", CNN_JSON, "val_acc", "std"),
        *metric_columns(CNN_JSON, "test_acc", "test acc", spread=True),
    ),
)
ASR = Study(
    "Speech recognition on LJ Speech",
    ASR_JSON,
    ("decoder", "asr", "data.speech"),
    {
        "decoder": "decoder",
        "asr.attention": "attention",
        "asr.cross_attention": "cross-attention",
        "asr.seed": "seed",
        "data.speech.source": "data",
    },
    (
        Column("seeds", ASR_JSON, "cer", "seeds"),
        *metric_columns(ASR_JSON, "cer", "CER", spread=True),
        Column("WER", ASR_JSON, "wer"),
        Column("Jaccard", ASR_JSON, "jaccard"),
        Column("cosine", ASR_JSON, "cosine"),
        Column("D-L", ASR_JSON, "damerau_levenshtein"),
        Column("loss", ASR_JSON, "loss"),
    ),
)
STUDIES = (CNN, ASR)
# The params tables show for the workspace alone (results.md), per study.
FIXED_PARAMS = {
    CNN.title: ("data.images.source", "lr", "cnn.maxpool"),
    ASR.title: (
        "data.speech.source",
        "decoder",
        "asr.attention",
        "asr.cross_attention",
    ),
}


@dataclass
class Run:
    """One set of results: params flattened to dotted keys, metrics by file."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference: bool = False
    kind: str = "experiment"  # "workspace", "commit", "experiment", "reference"
    rev: str | None = None  # the git commit of a commit or an experiment
    state: str | None = None  # a queued run's: "queued", "running", "failed"...

    def metric(self, path: str, key: str) -> Any:
        """A dotted key's value in a metrics file, None when absent."""
        node: Any = self.metrics.get(path)
        for part in key.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def value(self, column: Column) -> Any:
        """The column's value in this run, None when absent."""
        if column.source == "params":
            return self.params.get(column.key)
        if column.kind == "std":
            return self.metric(column.source, column.key + STD_SUFFIX)
        if column.kind == "ci":
            return self.metric(column.source, column.key + CI_SUFFIX)
        if column.kind == "seeds":
            if self.metric(column.source, column.key) is None:
                return None
            per_seed = self.metric(column.source, column.key + SEEDS_SUFFIX)
            if isinstance(per_seed, list) and per_seed:
                return len(per_seed)
            seeds = self.metric(column.source, SEEDS_KEY)
            return seeds if isinstance(seeds, int) else None if self.reference else 1
        return self.metric(column.source, column.key)


def _reference(params: dict[str, Any], path: str, metrics: dict[str, float]) -> Run:
    return Run(
        "homework report (full data)", params, {path: metrics}, True, "reference"
    )


def _cnn_reference(lr: float, maxpool: bool, val: float, test: float) -> Run:
    params = {"data.images.source": "full", "lr": lr, "cnn.maxpool": maxpool}
    return _reference(params, CNN_JSON, {"val_acc": val, "test_acc": test})


def _asr_reference(decoder: str, loss: float, jac: float, cos: float, dl: float) -> Run:
    params = {
        "data.speech.source": "full",
        "decoder": decoder,
        "asr.attention": "softmax",
        "asr.cross_attention": "softmax",
    }
    scores = {"loss": loss, "jaccard": jac, "cosine": cos, "damerau_levenshtein": dl}
    return _reference(params, ASR_JSON, scores)


# The homework report's results on the full data sets (docs/design.md), by what
# each comparison varied.
REFERENCES = {
    CNN.title: {
        ("lr",): (
            _cnn_reference(0.1, True, 0.7322, 0.7013),
            _cnn_reference(0.01, True, 0.8719, 0.8280),
            _cnn_reference(0.001, True, 0.7649, 0.7505),
        ),
        ("cnn.maxpool",): (
            _cnn_reference(0.01, True, 0.8719, 0.8280),
            _cnn_reference(0.01, False, 0.8550, 0.7958),
        ),
    },
    ASR.title: {
        ("decoder",): (
            _asr_reference("lstm", 1.1828, 0.7149, 0.8324, 0.5087),
            _asr_reference("transformer", 1.1604, 0.7657, 0.8661, 0.6344),
        ),
    },
}


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one mapping of dotted keys; other values are leaves."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def read_json(path: Path) -> Any:
    """A JSON file, or a DataError naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read JSON ({exc})") from exc


def workspace_run(root: Path) -> Run:
    """The results in the working tree: params.yaml and the metrics files (and
    the CNN's details file) present."""
    try:
        params = parse_yaml((root / "params.yaml").read_text()) or {}
    except (OSError, YAMLError) as exc:
        raise DataError(f"{root / 'params.yaml'}: cannot read ({exc})") from exc
    metrics = {}
    for name in (CNN_JSON, CNN_DETAILS, ASR_JSON):
        if (root / name).is_file():
            metrics[name] = read_json(root / name)
            if not isinstance(metrics[name], dict):
                raise DataError(f"{root / name}: expected a JSON object")
    return Run("workspace", flatten(params), metrics, kind="workspace")


def _exp_run(node: dict[str, Any], name: str, kind: str) -> Run | None:
    rev = node.get("rev")
    data = node.get("data")
    if not isinstance(data, dict):
        return None
    params: dict[str, Any] = {}
    for entry in (data.get("params") or {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
            params.update(flatten(entry["data"]))
    metrics = {
        path: entry["data"]
        for path, entry in (data.get("metrics") or {}).items()
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict)
    }
    if not params and not metrics:
        return None
    commit = str(rev) if kind != "workspace" and rev else None
    return Run(name, params, metrics, kind=kind, rev=commit)


def parse_exp_show(records: Any) -> list[Run]:
    """Runs from `dvc exp show --json`: the workspace, baselines, their experiments.

    Unknown shapes are skipped rather than fatal: the format belongs to DVC.
    """
    runs: list[Run] = []
    if not isinstance(records, list):
        return runs
    for record in records:
        if not isinstance(record, dict):
            continue
        rev = str(record.get("rev") or "")
        name = record.get("name") or (rev if rev == "workspace" else rev[:7])
        kind = "workspace" if rev == "workspace" else "commit"
        run = _exp_run(record, str(name), kind)
        if run is not None:
            runs.append(run)
        for exp in record.get("experiments") or []:
            if not isinstance(exp, dict):
                continue
            revs = exp.get("revs") or []
            if not revs or not isinstance(revs[0], dict):
                continue
            head = revs[0]
            exp_name = str(exp.get("name") or head.get("name") or "")
            exp_name = exp_name or str(head.get("rev") or "")[:7]
            executor = exp.get("executor")
            state = executor.get("state") if isinstance(executor, dict) else None
            if state and state != "success":
                exp_name = f"{exp_name} ({state})"
            run = _exp_run(head, exp_name, "experiment")
            if run is not None:
                run.state = state
                runs.append(run)
    return runs


def experiment_runs(root: Path, rev: str | None = None) -> tuple[list[Run], str | None]:
    """Runs from `dvc exp show --json` in `root`, or none and the reason why.

    Experiments belong to the commit they were run from, and `dvc exp show`
    lists HEAD's: `rev` names another commit (a branch, a tag, a hash).
    """
    try:
        runs = parse_exp_show(dvc.exp_show(root, rev))
    except Hw2Error as exc:
        return [], str(exc)
    for run in runs:
        fill_lists(run, root)
    return runs, None


def fill_lists(run: Run, root: Path) -> None:
    """Put back what `dvc exp show` leaves out of metrics files: list values
    (intervals, per-seed values). Read from the run's commit, or the workspace."""
    for path, metrics in run.metrics.items():
        raw = run_file(run, root, path)
        try:
            tree = json.loads(raw) if raw and path.endswith(".json") else None
        except ValueError:
            tree = None
        if isinstance(tree, dict):
            flat = flatten(tree)
            for key, value in flat.items():
                if isinstance(value, list) and key not in flatten(metrics):
                    _set(metrics, key, value)


def run_file(run: Run, root: Path, path: str) -> bytes | None:
    """A git-tracked file as the run left it: at its commit, or in the workspace
    (None where absent, and for a run with neither)."""
    if run.rev is None:
        file = root / path
        return file.read_bytes() if run.kind == "workspace" and file.is_file() else None
    try:
        return dvc.run(["git", "show", f"{run.rev}:{path}"], root).encode()
    except Hw2Error:
        return None


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        node = tree.setdefault(part, {})
        if not isinstance(node, dict):
            return
        tree = node
    tree[last] = value


def has_results(run: Run, columns: Sequence[Column]) -> bool:
    """Whether the run has a value for any metric column."""
    return any(
        run.value(c) is not None for c in columns if c.is_metric and c.kind == "value"
    )


def runs_frame(runs: Iterable[Run], columns: Sequence[Column]) -> pd.DataFrame:
    """One row per run that has a result in these columns: `run`, then the columns.

    Missing values are None (not NaN), so params keep their types for display.
    """
    rows = [
        [run.name, *(run.value(c) for c in columns)]
        for run in runs
        if has_results(run, columns)
    ]
    frame = pd.DataFrame(rows, columns=["run", *(c.header for c in columns)])
    return frame.astype(object)


def cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def format_param(value: Any) -> str:
    """A param as written: booleans lower-case, '–' for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return cell(str(value))


def format_cells(run: Run, columns: Sequence[Column]) -> list[str]:
    """A run's cells: metrics as people read them (catalog), params as written.

    A metric, its std and its interval share one scale, so they line up.
    """
    out = []
    for c in columns:
        value = run.value(c)
        if not c.is_metric:
            out.append(format_param(value))
            continue
        if value is None or c.kind == "seeds":
            out.append("–" if value is None else f"{value:,}")
            continue
        unit = describe(c.source, c.key).unit
        base = run.value(Column("", c.source, c.key))
        ref = [float(base)] if isinstance(base, int | float) else []
        if c.kind == "ci" and isinstance(value, list) and len(value) == 2:
            scale = scale_for(ref or [float(v) for v in value], unit)
            out.append(f"[{scale.text(value[0])}, {scale.text(value[1])}]")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            scale = scale_for(ref or [float(value)], unit)
            out.append(scale.text(float(value)))
        else:
            out.append(cell(str(value)))
    return out


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def varied(run: Run, baseline: Run, study: Study) -> tuple[str, ...]:
    """The study's params in which `run` differs from `baseline`, sorted."""
    keys = {k for k in [*run.params, *baseline.params] if study.owns(k)}
    return tuple(sorted(k for k in keys if run.params.get(k) != baseline.params.get(k)))


@dataclass
class Group:
    """Runs that varied the same params against the baseline."""

    keys: tuple[str, ...]
    runs: list[Run]


def group_runs(runs: Sequence[Run], baseline: Run, study: Study) -> list[Group]:
    """The runs with this study's results, grouped by what they varied (runs
    with the baseline's settings are left out: they are the baseline's row)."""
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        if run is baseline or not has_results(run, study.columns):
            continue
        keys = varied(run, baseline, study)
        if keys:
            groups.setdefault(keys, []).append(run)
    return [Group(k, v) for k, v in groups.items()]


def study_table(study: Study, rows: Sequence[Run], params: Sequence[str]) -> str:
    """Runs as a Markdown table: name, `params`, then the study's columns;
    references in italics."""
    columns = [Column(study.header(k), "params", k) for k in params]
    columns += list(study.columns)
    lines = []
    for run in rows:
        cells = [cell(run.name), *format_cells(run, columns)]
        if run.reference:
            cells = [f"*{c}*" if c != "–" else c for c in cells]
        lines.append(cells)
    return markdown_table(["run", *(c.header for c in columns)], lines)

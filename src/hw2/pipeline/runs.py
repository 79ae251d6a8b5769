"""Runs and their tables: the workspace and `dvc exp show`'s experiments.

A Run holds one set of params (flattened to dotted keys) and metrics (by file);
a Column picks one value out of it. The metrics files the tools read and the
metric names the studies compare are defined here and nowhere else.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hw2.core.errors import DataError, Hw2Error
from hw2.oct import metric_keys as cnn_keys
from hw2.oct.octmnist import CLASSES
from hw2.pipeline import dvc

# Paths of the metrics files as dvc.yaml declares them (`dvc exp show` keys its
# metrics by these); tests/test_pr_comment.py holds them against dvc.yaml.
CNN_JSON = "metrics/cnn.json"
CNN_CONFUSION = "metrics/cnn_confusion.csv"
CNN_PLOTS = "metrics/train_cnn/plots/metrics"
ASR_JSON = "metrics/asr.json"
ASR_TRANSCRIPTS = "metrics/asr_transcripts.tsv"
ASR_PLOTS = "metrics/train_asr/plots/metrics"
ATTENTION_JSON = "metrics/attention.json"
ATTENTION_PNGS = {
    "time": "metrics/attention_time.png",
    "error": "metrics/attention_error.png",
}
# The confusion matrix's label order.
CNN_CLASSES = CLASSES
# The ASR's test metrics, in the order the tables show them.
ASR_METRICS = ("loss", "jaccard", "cosine", "damerau_levenshtein", "cer", "wer")
CNN_METRICS = (cnn_keys.VAL_ACC, cnn_keys.TEST_ACC)


@dataclass(frozen=True)
class Column:
    """A table column: `key` (dotted) in params or in one metrics file."""

    header: str
    source: str  # "params" or a metrics file path
    key: str

    @property
    def is_metric(self) -> bool:
        """Whether the column shows a metric (4 decimals) rather than a param."""
        return self.source != "params"


CNN_COLUMNS = (
    Column("data", "params", "data.images.source"),
    Column("lr", "params", "lr"),
    Column("max-pool", "params", "cnn.maxpool"),
    *(Column(name, CNN_JSON, name) for name in CNN_METRICS),
)
ASR_COLUMNS = (
    Column("data", "params", "data.speech.source"),
    Column("decoder", "params", "decoder"),
    Column("attention", "params", "asr.attention"),
    Column("cross-attention", "params", "asr.cross_attention"),
    *(Column(name, ASR_JSON, name) for name in ASR_METRICS),
)


@dataclass
class Run:
    """One set of results: params flattened to dotted keys, metrics by file."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference: bool = False

    def value(self, column: Column) -> Any:
        """The column's value in this run, None when absent."""
        if column.source == "params":
            return self.params.get(column.key)
        node: Any = self.metrics.get(column.source)
        for part in column.key.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node


def _cnn_reference(lr: float, maxpool: bool, val: float, test: float) -> Run:
    return Run(
        "reference (full data)",
        {"data.images.source": "full", "lr": lr, "cnn.maxpool": maxpool},
        {CNN_JSON: {"val_acc": val, "test_acc": test}},
        reference=True,
    )


def _asr_reference(decoder: str, loss: float, jac: float, cos: float, dl: float) -> Run:
    return Run(
        "reference (full data)",
        {
            "data.speech.source": "full",
            "decoder": decoder,
            "asr.attention": "softmax",
            "asr.cross_attention": "softmax",
        },
        {
            ASR_JSON: {
                "loss": loss,
                "jaccard": jac,
                "cosine": cos,
                "damerau_levenshtein": dl,
            }
        },
        reference=True,
    )


# The homework report's results on the full data sets (docs/design.md).
CNN_REFERENCES = (
    _cnn_reference(0.1, True, 0.7322, 0.7013),
    _cnn_reference(0.01, True, 0.8719, 0.8280),
    _cnn_reference(0.001, True, 0.7649, 0.7505),
    _cnn_reference(0.01, False, 0.8550, 0.7958),
)
ASR_REFERENCES = (
    _asr_reference("lstm", 1.1828, 0.7149, 0.8324, 0.5087),
    _asr_reference("transformer", 1.1604, 0.7657, 0.8661, 0.6344),
)


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
    """The results in the working tree: params.yaml and the metrics files present."""
    try:
        params = yaml.safe_load((root / "params.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{root / 'params.yaml'}: cannot read ({exc})") from exc
    metrics = {}
    for name in (CNN_JSON, ASR_JSON):
        if (root / name).is_file():
            metrics[name] = read_json(root / name)
            if not isinstance(metrics[name], dict):
                raise DataError(f"{root / name}: expected a JSON object")
    return Run("workspace", flatten(params), metrics)


def _exp_run(node: dict[str, Any], name: str) -> Run | None:
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
    return Run(name, params, metrics)


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
        run = _exp_run(record, str(name))
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
            run = _exp_run(head, exp_name)
            if run is not None:
                runs.append(run)
    return runs


def experiment_runs(root: Path, rev: str | None = None) -> tuple[list[Run], str | None]:
    """Runs from `dvc exp show --json` in `root`, or none and the reason why.

    Experiments belong to the commit they were run from, and `dvc exp show`
    lists HEAD's: `rev` names another commit (a branch, a tag, a hash).
    """
    try:
        return parse_exp_show(dvc.exp_show(root, rev)), None
    except Hw2Error as exc:
        return [], str(exc)


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


def format_value(value: Any, metric: bool) -> str:
    """A table cell: metrics to 4 decimals, params as written, '–' for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4f}" if metric else f"{value:g}"
    return cell(str(value))


def cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def has_results(run: Run, columns: Sequence[Column]) -> bool:
    """Whether the run has a value for any metric column."""
    return any(run.value(c) is not None for c in columns if c.is_metric)


def runs_table(
    runs: Sequence[Run], columns: Sequence[Column], references: Sequence[Run]
) -> str:
    """Runs with results for these columns, then the references in italics.

    Runs showing the same values merge into one row naming them all (an experiment
    that changed only the ASR repeats the CNN's cached results).
    """
    frame = runs_frame(runs, columns)
    headers = [c.header for c in columns]
    for c in columns:
        frame[c.header] = [format_value(v, c.is_metric) for v in frame[c.header]]
    frame["run"] = frame["run"].map(cell)
    rows: list[list[str]] = []
    if len(frame):
        merged = frame.groupby(headers, sort=False)["run"].agg(", ".join)
        rows = [
            [names, *(cells if isinstance(cells, tuple) else (cells,))]
            for cells, names in merged.items()
        ]
    for ref in references:
        cells = [format_value(ref.value(c), c.is_metric) for c in columns]
        rows.append([f"*{cell(ref.name)}*"] + [f"*{c}*" for c in cells])
    return markdown_table(["run", *headers], rows)

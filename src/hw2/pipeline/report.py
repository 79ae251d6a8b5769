"""The results report: runs beside the homework's full-data references, as Markdown.

`build_report` renders the workspace (the metrics files the pipeline wrote) into
reports/results.md with PNG figures; it reads nothing but files, so it can be a DVC
stage. `build_experiments_report` adds every run `dvc exp show` knows, which depends
on the git and experiment refs as well, so it is kept out of the stage.
"""

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hw2.core.errors import DataError
from hw2.core.io import atomic_dir, write_text
from hw2.oct import names as cnn_names
from hw2.oct.names import CLASSES as CNN_CLASSES

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
N_TRANSCRIPTS = 5
# Enough to see what attention.json holds without turning the report into a dump.
MAX_ATTENTION_ROWS = 24


@dataclass(frozen=True)
class Column:
    """A table column: `key` (dotted) in params or in one metrics file."""

    header: str
    source: str  # "params" or a metrics file path
    key: str


CNN_COLUMNS = (
    Column("data", "params", "data.source"),
    Column("lr", "params", "lr"),
    Column("max-pool", "params", "cnn.maxpool"),
    Column("val_acc", CNN_JSON, cnn_names.VAL_ACC),
    Column("test_acc", CNN_JSON, cnn_names.TEST_ACC),
)
ASR_COLUMNS = (
    Column("data", "params", "data.source"),
    Column("decoder", "params", "decoder"),
    Column("attention", "params", "asr.attention"),
    Column("cross-attention", "params", "asr.cross_attention"),
    *(
        Column(name, ASR_JSON, name)
        for name in ("loss", "jaccard", "cosine", "damerau_levenshtein", "cer", "wer")
    ),
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
        {"data.source": "full", "lr": lr, "cnn.maxpool": maxpool},
        {CNN_JSON: {"val_acc": val, "test_acc": test}},
        reference=True,
    )


def _asr_reference(decoder: str, loss: float, jac: float, cos: float, dl: float) -> Run:
    return Run(
        "reference (full data)",
        {
            "data.source": "full",
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


# The homework report's results on the full data sets (DESIGN.md).
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


def dvc_env() -> dict[str, str]:
    """The environment for dvc subprocesses: no analytics, this venv's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def experiment_runs(root: Path, rev: str | None = None) -> tuple[list[Run], str | None]:
    """Runs from `dvc exp show --json` in `root`, or none and the reason why.

    Experiments belong to the commit they were run from, and `dvc exp show`
    lists HEAD's: `rev` names another commit (a branch, a tag, a hash).
    """
    try:
        proc = subprocess.run(
            ["dvc", "exp", "show", "--json", *(["--rev", rev] if rev else [])],
            cwd=root,
            env=dvc_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"`dvc exp show` could not run ({exc})"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["no message"]
        return [], f"`dvc exp show` failed: {lines[-1]}"
    try:
        return parse_exp_show(json.loads(proc.stdout)), None
    except json.JSONDecodeError:
        return [], "`dvc exp show` printed no JSON"


def format_value(value: Any, metric: bool) -> str:
    """A table cell: metrics to 4 decimals, params as written, '–' for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4f}" if metric else f"{value:g}"
    return _cell(str(value))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def has_results(run: Run, columns: Sequence[Column]) -> bool:
    """Whether the run has a value for any metric column."""
    return any(run.value(c) is not None for c in columns if c.source != "params")


def runs_table(
    runs: Sequence[Run], columns: Sequence[Column], references: Sequence[Run]
) -> str:
    """Runs with results for these columns, then the references in italics.

    Runs showing the same values merge into one row naming them all (an experiment
    that changed only the ASR repeats the CNN's cached results).
    """
    merged: dict[tuple[str, ...], list[str]] = {}
    for run in runs:
        if not has_results(run, columns):
            continue
        cells = tuple(format_value(run.value(c), c.source != "params") for c in columns)
        merged.setdefault(cells, []).append(_cell(run.name))
    rows = [[", ".join(names), *cells] for cells, names in merged.items()]
    for ref in references:
        cells = [format_value(ref.value(c), c.source != "params") for c in columns]
        rows.append([f"*{_cell(ref.name)}*"] + [f"*{c}*" for c in cells])
    return markdown_table(["run", *(c.header for c in columns)], rows)


def read_curve(path: Path) -> tuple[list[float], list[float], str]:
    """A dvclive TSV (step and one value column): steps, values and the value name."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            fields = [n for n in reader.fieldnames or [] if n not in ("timestamp",)]
            if "step" not in fields or len(fields) < 2:
                raise DataError(f"{path}: expected columns step and a value")
            name = next(n for n in reversed(fields) if n != "step")
            steps, values = [], []
            for row in reader:
                try:
                    steps.append(float(row["step"]))
                    values.append(float(row[name]))
                except (TypeError, ValueError) as exc:
                    raise DataError(
                        f"{path}: line {reader.line_num}: not a number"
                    ) from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    return steps, values, name


def read_confusion(
    path: Path, classes: Sequence[str]
) -> tuple[list[str], list[list[int]]]:
    """Counts[actual][predicted] from a CSV of actual,predicted rows.

    Labels follow `classes`, then any others in sorted order.
    """
    pairs = []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not {"actual", "predicted"} <= set(reader.fieldnames or []):
                raise DataError(f"{path}: expected columns actual,predicted")
            for row in reader:
                if row["actual"] is None or row["predicted"] is None:
                    raise DataError(f"{path}: line {reader.line_num}: missing field")
                pairs.append((row["actual"], row["predicted"]))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    seen = {label for pair in pairs for label in pair}
    labels = [c for c in classes if c in seen] + sorted(seen - set(classes))
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for actual, predicted in pairs:
        counts[index[actual]][index[predicted]] += 1
    return labels, counts


def read_transcripts(path: Path, n: int) -> list[tuple[str, str, str]]:
    """The first `n` (id, reference, hypothesis) rows of the transcripts TSV."""
    rows = []
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            if header != ["id", "reference", "hypothesis"]:
                raise DataError(
                    f"{path}: expected the header id, reference, hypothesis"
                )
            for row in reader:
                if len(rows) == n:
                    break
                if len(row) != 3:
                    raise DataError(
                        f"{path}: line {reader.line_num}: expected 3 fields"
                    )
                rows.append((row[0], row[1], row[2]))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    return rows


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


def plot_curves(panels: Sequence[tuple[str, Sequence[Path]]], path: Path) -> None:
    """One panel per (title, dvclive TSVs); the x axis is the epoch (step + 1)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, (title, files) in zip(axes, panels, strict=True):
        for file in files:
            steps, values, name = read_curve(file)
            label = f"{file.parent.name}/{name}"
            ax.plot([s + 1 for s in steps], values, marker="o", ms=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def plot_confusion(
    labels: Sequence[str], counts: Sequence[Sequence[int]], path: Path
) -> None:
    """Counts annotated; colour is the share of each actual class (row-normalised)."""
    plt = pyplot()
    shares = [[c / max(1, sum(row)) for c in row] for row in counts]
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            colour = "white" if shares[i][j] > 0.5 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title("CNN test confusion")
    fig.tight_layout()
    save_figure(fig, path)


def _tsvs(folder: Path, names: Sequence[str]) -> list[Path]:
    return [folder / n for n in names if (folder / n).is_file()]


def write_figures(root: Path, dest: Path) -> set[str]:
    """Write the PNGs whose inputs exist into `dest`; return their file names."""
    written = set()
    cnn = root / CNN_PLOTS
    loss, acc = _tsvs(cnn, ["train/loss.tsv"]), _tsvs(cnn, ["val/acc.tsv"])
    if loss or acc:
        panels = [("training loss", loss), ("validation accuracy", acc)]
        plot_curves([p for p in panels if p[1]], dest / "cnn_curves.png")
        written.add("cnn_curves.png")
    if (root / CNN_CONFUSION).is_file():
        labels, counts = read_confusion(root / CNN_CONFUSION, CNN_CLASSES)
        if labels:
            plot_confusion(labels, counts, dest / "cnn_confusion.png")
            written.add("cnn_confusion.png")
    asr = root / ASR_PLOTS
    losses = _tsvs(asr, ["train/loss.tsv", "val/loss.tsv"])
    scores = _tsvs(asr, ["val/cer.tsv", "val/similarity.tsv"])
    if losses or scores:
        panels = [("loss", losses), ("validation scores", scores)]
        plot_curves([p for p in panels if p[1]], dest / "asr_curves.png")
        written.add("asr_curves.png")
    return written


def _missing(what: str, stage: str) -> str:
    return f"_Not run yet: {what} is missing (stage `{stage}`)._"


def data_note(source: Any) -> str:
    """Which data the current results come from, and what that means for comparing."""
    if source == "full":
        return (
            "Current results: `data.source: full`, the real OCTMNIST and LJ Speech "
            "1.1, the data of the references."
        )
    return (
        f"Current results: `data.source: {source}`, the synthetic stand-ins the "
        "download stages generate (OCT-like phantoms; an eSpeak NG voiced corpus in "
        "LJ Speech format). They run the same code as the real data, but their "
        "numbers are not comparable with the references, which are the homework "
        "report's results on the full OCTMNIST and LJ Speech (`dvc exp run -S "
        "data.source=full` reproduces those)."
    )


def _abbreviate(value: Any) -> str:
    if isinstance(value, list):
        head = ", ".join(format_value(v, True) for v in value[:4])
        return f"[{head}{', …' if len(value) > 4 else ''}] ({len(value)})"
    return format_value(value, True)


def _image(label: str, target: Path, page: Path) -> str:
    return f"![{label}]({Path(os.path.relpath(target, page.parent)).as_posix()})"


def cnn_section(
    runs: Sequence[Run], ws: Run, page: Path, figs: dict[str, Path]
) -> list[str]:
    """The CNN table, per-class accuracy and figures (Markdown lines)."""
    lines = ["## CNN on OCTMNIST", ""]
    if CNN_JSON not in ws.metrics:
        lines += [_missing(CNN_JSON, "evaluate_cnn"), ""]
    lines += [runs_table(runs, CNN_COLUMNS, CNN_REFERENCES), ""]
    cnn = ws.metrics.get(CNN_JSON, {})
    ci, std = cnn.get(cnn_names.TEST_ACC_CI95), cnn.get(cnn_names.std_key("test_acc"))
    if isinstance(ci, list) and len(ci) == 2 and isinstance(std, int | float):
        lines += [
            f"Workspace test accuracy over {cnn.get(cnn_names.SEEDS)} seeds: "
            f"{format_value(cnn.get(cnn_names.TEST_ACC), True)} "
            f"(std {format_value(std, True)}, 95 % interval "
            f"{format_value(ci[0], True)}–{format_value(ci[1], True)}, "
            "resampling test images and seeds).",
            "",
        ]
    per_class = cnn.get(cnn_names.TEST_ACC_PER_CLASS)
    if isinstance(per_class, dict):
        parts = [
            f"{_cell(str(k))} {format_value(v, True)}" for k, v in per_class.items()
        ]
        lines += ["Workspace test accuracy per class: " + ", ".join(parts) + ".", ""]
    if "cnn_curves.png" in figs:
        lines += [_image("CNN curves", figs["cnn_curves.png"], page), ""]
    else:
        lines += [_missing(CNN_PLOTS, "train_cnn"), ""]
    if "cnn_confusion.png" in figs:
        lines += [_image("CNN confusion", figs["cnn_confusion.png"], page), ""]
    else:
        lines += [_missing(CNN_CONFUSION, "evaluate_cnn"), ""]
    return lines


def asr_section(
    runs: Sequence[Run], ws: Run, root: Path, page: Path, figs: dict[str, Path]
) -> list[str]:
    """The ASR table, curves and example transcripts (Markdown lines)."""
    lines = ["## Speech recognition on LJ Speech", ""]
    if ASR_JSON not in ws.metrics:
        lines += [_missing(ASR_JSON, "evaluate_asr"), ""]
    lines += [runs_table(runs, ASR_COLUMNS, ASR_REFERENCES), ""]
    lines += [
        "Similarities are textdistance's normalised jaccard, cosine and "
        "Damerau-Levenshtein between the reference and the greedy transcript "
        "(higher is better); CER and WER are error rates (lower is better).",
        "",
    ]
    if "asr_curves.png" in figs:
        lines += [_image("ASR curves", figs["asr_curves.png"], page)]
    else:
        lines += [_missing(ASR_PLOTS, "train_asr")]
    lines += ["", f"### Example transcripts (first {N_TRANSCRIPTS} test clips)", ""]
    if (root / ASR_TRANSCRIPTS).is_file():
        rows = read_transcripts(root / ASR_TRANSCRIPTS, N_TRANSCRIPTS)
        cells = [[f"`{_cell(i)}`", _cell(ref), _cell(hyp)] for i, ref, hyp in rows]
        lines += [markdown_table(["id", "reference", "hypothesis"], cells)]
    else:
        lines += [_missing(ASR_TRANSCRIPTS, "evaluate_asr")]
    return lines + [""]


def attention_section(root: Path, page: Path) -> list[str]:
    """The McLaurin attention benchmark: its numbers and its two PNGs."""
    lines = ["## Linear attention (McLaurin series)", ""]
    if not (root / ATTENTION_JSON).is_file():
        return lines + [_missing(ATTENTION_JSON, "bench_attention"), ""]
    flat = flatten(read_json(root / ATTENTION_JSON))
    rows = [[f"`{_cell(k)}`", _abbreviate(v)] for k, v in flat.items()]
    if len(rows) > MAX_ATTENTION_ROWS:
        rows = rows[:MAX_ATTENTION_ROWS] + [["…", f"{len(flat)} values in all"]]
    lines += [markdown_table(["key", "value"], rows), ""]
    for kind, name in ATTENTION_PNGS.items():
        if (root / name).is_file():
            lines += [_image(f"attention {kind}", root / name, page), ""]
        else:
            lines += [_missing(name, "bench_attention"), ""]
    return lines


def render_results(root: Path, page: Path, figs: dict[str, Path], ws: Run) -> str:
    """reports/results.md for the workspace; `figs` maps PNG names to their paths."""
    lines = [
        "# Results",
        "",
        "Written by the `report` stage from the metrics files of the workspace. "
        "Rows in *italics* are the homework report's results on the **full data** "
        "(references); `make report` also lists every DVC experiment in "
        "`reports/experiments.md`.",
        "",
        data_note(ws.params.get("data.source")),
        "",
    ]
    lines += cnn_section([ws], ws, page, figs)
    lines += asr_section([ws], ws, root, page, figs)
    lines += attention_section(root, page)
    return "\n".join(lines).rstrip() + "\n"


def render_experiments(runs: Sequence[Run], problem: str | None) -> str:
    """reports/experiments.md: every run's results beside the references."""
    lines = [
        "# Experiments",
        "",
        "Every run `dvc exp show` lists (the workspace, the commit it is based on "
        "and its experiments); runs with the same results share a row. Rows in "
        "*italics* are the homework report's results on the **full data**; the "
        "`data` column says what each run used.",
        "",
    ]
    if problem:
        lines += [f"_No experiments listed: {_cell(problem)}._", ""]
    for title, columns, refs in [
        ("CNN on OCTMNIST", CNN_COLUMNS, CNN_REFERENCES),
        ("Speech recognition on LJ Speech", ASR_COLUMNS, ASR_REFERENCES),
    ]:
        lines += [f"## {title}", ""]
        if not any(has_results(run, columns) for run in runs):
            lines += ["_No run has these results yet._", ""]
        lines += [runs_table(runs, columns, refs), ""]
    return "\n".join(lines).rstrip() + "\n"


def build_report(
    root: str | Path = ".",
    out: str | Path = "reports/results.md",
    figures: str | Path = "reports/figures",
) -> Path:
    """Write the workspace report and its figures (paths relative to `root`)."""
    root = Path(root)
    page, figures_dir = root / out, root / figures
    ws = workspace_run(root)  # bad JSON fails here, before any plotting
    with atomic_dir(figures_dir) as tmp:
        written = write_figures(root, tmp)
    figs = {name: figures_dir / name for name in written}
    write_text(page, render_results(root, page, figs, ws))
    return page


def build_experiments_report(
    root: str | Path = ".",
    out: str | Path = "reports/experiments.md",
    rev: str | None = None,
) -> Path:
    """Write the table of the DVC experiments of HEAD or `rev` (or the workspace)."""
    root = Path(root)
    runs, problem = experiment_runs(root, rev)
    if not runs:
        runs = [workspace_run(root)]
    page = root / out
    write_text(page, render_experiments(runs, problem))
    return page

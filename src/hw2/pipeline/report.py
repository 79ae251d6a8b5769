"""The results report: runs beside the homework's full-data references, as Markdown.

`build_report` renders the workspace (the metrics files the pipeline wrote) into
reports/results.md with PNG figures; it reads nothing but files, so it can be a DVC
stage. `build_experiments_report` adds every run `dvc exp show` knows, which depends
on the git and experiment refs as well, so it is kept out of the stage.
"""

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hw2.core.errors import DataError
from hw2.core.io import atomic_dir, write_text
from hw2.oct import metric_keys as cnn_keys
from hw2.pipeline.figures import write_figures
from hw2.pipeline.runs import (
    ASR_COLUMNS,
    ASR_JSON,
    ASR_PLOTS,
    ASR_REFERENCES,
    ASR_TRANSCRIPTS,
    ATTENTION_JSON,
    ATTENTION_PNGS,
    CNN_COLUMNS,
    CNN_CONFUSION,
    CNN_JSON,
    CNN_PLOTS,
    CNN_REFERENCES,
    Run,
    cell,
    experiment_runs,
    flatten,
    format_value,
    has_results,
    markdown_table,
    read_json,
    runs_table,
    workspace_run,
)

N_TRANSCRIPTS = 5
# Enough to see what attention.json holds without turning the report into a dump.
MAX_ATTENTION_ROWS = 24


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


def _missing(what: str, stage: str) -> str:
    return f"_Not run yet: {what} is missing (stage `{stage}`)._"


def data_note(images: Any, speech: Any) -> str:
    """Which data the current results come from, and what that means for comparing."""
    sources = f"`data.images.source: {images}`, `data.speech.source: {speech}`"
    if images == speech == "full":
        return (
            f"Current results: {sources}, the real OCTMNIST and LJ Speech 1.1, the "
            "data of the references."
        )
    return (
        f"Current results: {sources}. `sample` is the synthetic stand-in the "
        "download stages generate (OCT-like phantoms; an eSpeak NG voiced corpus in "
        "LJ Speech format): the same code as the real data, but numbers not "
        "comparable with the references, which are the homework report's results "
        "on the full OCTMNIST and LJ Speech (`dvc exp run -S data.images.source=full "
        "-S data.speech.source=full` reproduces those)."
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
    ci, std = cnn.get(cnn_keys.TEST_ACC_CI95), cnn.get(cnn_keys.std_key("test_acc"))
    if isinstance(ci, list) and len(ci) == 2 and isinstance(std, int | float):
        lines += [
            f"Workspace test accuracy over {cnn.get(cnn_keys.SEEDS)} seeds: "
            f"{format_value(cnn.get(cnn_keys.TEST_ACC), True)} "
            f"(std {format_value(std, True)}, 95 % interval "
            f"{format_value(ci[0], True)}–{format_value(ci[1], True)}, "
            "resampling test images and seeds).",
            "",
        ]
    per_class = cnn.get(cnn_keys.TEST_ACC_PER_CLASS)
    if isinstance(per_class, dict):
        parts = [
            f"{cell(str(k))} {format_value(v, True)}" for k, v in per_class.items()
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
        cells = [[f"`{cell(i)}`", cell(ref), cell(hyp)] for i, ref, hyp in rows]
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
    rows = [[f"`{cell(k)}`", _abbreviate(v)] for k, v in flat.items()]
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
        data_note(
            ws.params.get("data.images.source"), ws.params.get("data.speech.source")
        ),
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
        lines += [f"_No experiments listed: {cell(problem)}._", ""]
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

"""The results report: runs grouped by what they varied, beside the homework's
full-data references, as Markdown.

`build_report` renders the workspace (the metrics files the pipeline wrote) into
reports/results.md with PNG figures; it reads nothing but files, so it can be a DVC
stage. reports/experiments.md (hw2.pipeline.experiments) lists every run `dvc exp
show` knows with these tables, which depends on the git and experiment refs as
well, so it is kept out of the stage.
"""

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hw2.core.errors import DataError
from hw2.core.io import atomic_dir, write_text
from hw2.pipeline.catalog import (
    ASR_JSON,
    ASR_PLOTS,
    ASR_TRANSCRIPTS,
    ATTENTION_DETAILS,
    ATTENTION_ERROR,
    ATTENTION_JSON,
    ATTENTION_MEMORY,
    ATTENTION_TIME,
    CNN_CONFUSION,
    CNN_DETAILS,
    CNN_JSON,
    CNN_PLOTS,
    SEEDS_KEY,
    human,
    short,
)
from hw2.pipeline.figures import read_rows, write_figures
from hw2.pipeline.runs import (
    ASR,
    CNN,
    REFERENCES,
    Run,
    Study,
    cell,
    format_param,
    group_runs,
    has_results,
    markdown_table,
    read_json,
    study_table,
    workspace_run,
)

N_TRANSCRIPTS = 5
# Every file the report stage reads (where present): its deps in dvc.yaml.
INPUTS = (
    CNN_JSON,
    CNN_DETAILS,
    CNN_CONFUSION,
    CNN_PLOTS,
    ASR_JSON,
    ASR_TRANSCRIPTS,
    ASR_PLOTS,
    ATTENTION_JSON,
    ATTENTION_DETAILS,
    ATTENTION_TIME,
    ATTENTION_MEMORY,
    ATTENTION_ERROR,
)
PLUS_MINUS = (
    "± is the standard deviation over training seeds; [lo, hi] is a 95 % interval "
    "over seeds and test items (images, clips) where a row has several seeds, over "
    "one training run's test items otherwise, which leaves out run-to-run noise "
    "(docs/noise.md)."
)


def parse_transcripts(
    lines: Iterable[str], where: str, n: int | None = None
) -> list[tuple[str, str, str]]:
    """The (id, reference, hypothesis) rows of a transcripts TSV's lines (the
    first `n`, or all); `where` names the file in errors."""
    rows: list[tuple[str, str, str]] = []
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    if next(reader, None) != ["id", "reference", "hypothesis"]:
        raise DataError(f"{where}: expected the header id, reference, hypothesis")
    for row in reader:
        if len(rows) == n:
            break
        if len(row) != 3:
            raise DataError(f"{where}: line {reader.line_num}: expected 3 fields")
        rows.append((row[0], row[1], row[2]))
    return rows


def read_transcripts(path: Path, n: int) -> list[tuple[str, str, str]]:
    """The first `n` (id, reference, hypothesis) rows of the transcripts TSV."""
    try:
        with open(path, newline="") as f:
            return parse_transcripts(f, str(path), n)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def _missing(what: str, stage: str) -> str:
    return f"*Not run yet: {what} is missing (stage `{stage}`).*"


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


def _image(label: str, target: Path, page: Path) -> str:
    return f"![{label}]({Path(os.path.relpath(target, page.parent)).as_posix()})"


def _group_title(keys: Sequence[str], study: Study) -> str:
    names = ", ".join(f"`{k}`" for k in keys)
    return f"Varying {names}" if keys else "Baseline"


def grouped_tables(study: Study, runs: Sequence[Run], baseline: Run) -> list[str]:
    """One table per set of params the runs (or the references) varied: the
    baseline first, then the runs, then the homework's full-data rows."""
    refs = REFERENCES.get(study.title, {})
    groups = {g.keys: g.runs for g in group_runs(runs, baseline, study)}
    for keys in refs:
        groups.setdefault(keys, [])
    if not groups:
        groups[()] = []
    data_key = next(k for k in study.names if k.startswith("data."))
    lines = []
    for keys, members in groups.items():
        params = [data_key, *(k for k in keys if k != data_key)]
        first = [baseline] if has_results(baseline, study.columns) else []
        rows = [*first, *members, *refs.get(keys, ())]
        lines += [f"### {_group_title(keys, study)}", ""]
        lines += [study_table(study, rows, params), ""]
    return lines


def _cnn_value(run: Run, key: str) -> Any:
    """A CNN result from its details file, or from cnn.json (the older layout)."""
    value = run.metric(CNN_DETAILS, key)
    return run.metric(CNN_JSON, key) if value is None else value


def _seeds(run: Run) -> int:
    seeds = _cnn_value(run, SEEDS_KEY)
    return seeds if isinstance(seeds, int) else 1


def cnn_section(ws: Run, page: Path, figs: dict[str, Path]) -> list[str]:
    """The CNN's results, per-class accuracy and figures (Markdown lines)."""
    lines = ["## CNN on OCTMNIST", ""]
    if CNN_JSON not in ws.metrics:
        lines += [_missing(CNN_JSON, "evaluate_cnn"), ""]
    lines += grouped_tables(CNN, [], ws)
    per_class = _cnn_value(ws, "test_acc_per_class")
    if isinstance(per_class, dict):
        rows = [[cell(str(k)), human(float(v))] for k, v in per_class.items()]
        lines += [
            f"Test accuracy per class (mean of {_seeds(ws)} seeds; the "
            "test split is balanced, 250 images a class):",
            "",
            markdown_table(["class", "test accuracy"], rows),
            "",
        ]
    if "cnn_curves.png" in figs:
        lines += [_image("CNN curves", figs["cnn_curves.png"], page), ""]
    else:
        lines += [_missing(CNN_PLOTS, "train_cnn"), ""]
    if "cnn_confusion.png" in figs:
        lines += [_image("CNN confusion", figs["cnn_confusion.png"], page), ""]
    else:
        lines += [_missing(CNN_CONFUSION, "evaluate_cnn"), ""]
    return lines


def asr_section(ws: Run, root: Path, page: Path, figs: dict[str, Path]) -> list[str]:
    """The ASR's results, curves and example transcripts (Markdown lines)."""
    lines = ["## Speech recognition on LJ Speech", ""]
    if ASR_JSON not in ws.metrics:
        lines += [_missing(ASR_JSON, "evaluate_asr"), ""]
    lines += [
        "CER and WER are error rates (lower is better; WER above 1 counts inserted "
        "words); Jaccard, cosine and Damerau-Levenshtein (D-L) are textdistance's "
        "normalised similarities between reference and greedy transcript (higher "
        "is better); loss is the test cross-entropy with label smoothing (nats).",
        "",
    ]
    lines += grouped_tables(ASR, [], ws)
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


def _get(tree: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def _num(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return human(float(value), unit) if unit else short(float(value))


def attention_summary(bench: dict[str, Any]) -> list[str]:
    """The benchmark's headline numbers with units, plain and causal side by side."""
    rows = []
    for label, key, unit in [
        ("speed-up of McLaurin at the longest length", "speedup_at_max_len", "x"),
        (
            "peak memory, softmax ÷ McLaurin, same length",
            "memory_ratio_at_max_len",
            "x",
        ),
        ("McLaurin faster from length (measured, tokens)", "crossover_len", ""),
        ("… interpolated (tokens)", "crossover_len_interpolated", ""),
        ("… by operation count (tokens)", "theoretical_crossover_len", ""),
    ]:
        rows.append(
            [label, _num(bench.get(key), unit), _num(bench.get(f"{key}_causal"), unit)]
        )
    return [markdown_table(["", "non-causal", "causal"], rows), ""]


def attention_lengths(root: Path) -> list[str]:
    """Per sequence length: each method's time and peak memory, and the speed-up."""
    times: dict[tuple[int, str], float] = {}
    memory: dict[tuple[int, str], float] = {}
    for path, store, column in [
        (root / ATTENTION_TIME, times, "seconds"),
        (root / ATTENTION_MEMORY, memory, "peak_bytes"),
    ]:
        if path.is_file():
            for row in read_rows(path):
                try:
                    store[(int(row["length"]), row["method"])] = float(row[column])
                except (KeyError, TypeError, ValueError) as exc:
                    raise DataError(
                        f"{path}: expected length, method, {column}"
                    ) from exc
    if not times:
        return []
    lengths = sorted({n for n, _ in times})
    rows = []
    for n in lengths:
        row = [f"{n:,}"]
        for suffix in ("", "_causal"):
            soft, mcl = (
                times.get((n, "softmax" + suffix)),
                times.get((n, "mclaurin" + suffix)),
            )
            row += [
                "–" if soft is None else f"{soft * 1e3:,.3f}",
                "–" if mcl is None else f"{mcl * 1e3:,.3f}",
                "–" if not soft or not mcl else f"{soft / mcl:,.2f}×",
            ]
        for method in ("softmax", "mclaurin"):
            peak = memory.get((n, method))
            row.append("–" if peak is None else f"{peak / 2**20:,.2f}")
        rows.append(row)
    header = [
        "L (tokens)",
        "softmax (ms)",
        "McLaurin (ms)",
        "speed-up",
        "causal softmax (ms)",
        "causal McLaurin (ms)",
        "causal speed-up",
        "softmax peak (MiB)",
        "McLaurin peak (MiB)",
    ]
    return [markdown_table(header, rows), ""]


def attention_section(root: Path, page: Path, figs: dict[str, Path]) -> list[str]:
    """The McLaurin attention benchmark: headline, per-length table, error, figures."""
    lines = ["## Linear attention (McLaurin series)", ""]
    # the whole record where the benchmark writes one beside its headline numbers
    found = [p for p in (ATTENTION_DETAILS, ATTENTION_JSON) if (root / p).is_file()]
    if not found:
        return lines + [_missing(ATTENTION_JSON, "bench_attention"), ""]
    bench = read_json(root / found[0])
    if not isinstance(bench, dict):
        raise DataError(f"{root / found[0]}: expected a JSON object")
    settings = bench.get("settings") if isinstance(bench.get("settings"), dict) else {}
    if settings:
        described = ", ".join(
            f"{k.replace('_', ' ')} {format_param(settings[k])}"
            for k in ("head_dim", "terms", "threads", "device", "timing")
            if k in settings
        )
        lines += [f"Settings: {described}.", ""]
    lines += attention_summary(bench)
    lines += attention_lengths(root)
    errors, causal = bench.get("rel_error"), bench.get("rel_error_causal")
    if isinstance(errors, dict):
        rows = [
            [str(k), _num(v), _num(_get(causal, str(k)))] for k, v in errors.items()
        ]
        lines += [
            "Relative error of McLaurin attention against softmax, by series terms K:",
            "",
            markdown_table(["K", "relative error", "causal"], rows),
            "",
        ]
    for name, label in [
        ("attention.png", "attention time and memory"),
        ("attention_error.png", "attention error"),
    ]:
        if name in figs:
            lines += [_image(label, figs[name], page), ""]
    return lines


def render_results(root: Path, page: Path, figs: dict[str, Path], ws: Run) -> str:
    """reports/results.md for the workspace; `figs` maps PNG names to their paths."""
    lines = [
        "# Results",
        "",
        "Written by the `report` stage from the metrics files of the workspace. "
        "Each table puts the workspace beside the homework report's results on the "
        "**full data** (rows in *italics*), grouped by what the homework compared. "
        "`make report` also writes `reports/experiments.md`: every DVC experiment, "
        "grouped by what it varied.",
        "",
        PLUS_MINUS,
        "",
        data_note(
            ws.params.get("data.images.source"), ws.params.get("data.speech.source")
        ),
        "",
    ]
    lines += cnn_section(ws, page, figs)
    lines += asr_section(ws, root, page, figs)
    lines += attention_section(root, page, figs)
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
        written = write_figures(root, tmp, _seeds(ws))
    figs = {name: figures_dir / name for name in written}
    write_text(page, render_results(root, page, figs, ws))
    return page

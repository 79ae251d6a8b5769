"""reports/results.md: the workspace's metrics files beside the homework's
full-data references, with dvc.yaml's charts as PNGs: `dvc plots show --json`
gives each one as a Vega-Lite spec of the project's template (.dvc/plots) holding
its data, and vl-convert renders it offline, the same bytes for the same spec. It
reads nothing but files, so it is a DVC stage (reports/experiments.md, which reads
git refs, is not).
"""

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import vl_convert

from hw2.core.errors import DataError
from hw2.core.io import atomic_dir, write_text
from hw2.pipeline import catalog as cat
from hw2.pipeline.dvc import run_json
from hw2.pipeline.markdown import cell
from hw2.pipeline.runs import (
    ASR,
    CNN,
    EMPTY,
    get,
    grouped_tables,
    markdown_table,
    param_text,
    read_json,
    workspace_frame,
)

N_TRANSCRIPTS = 5
# Every file the report stage reads (where present): its deps in dvc.yaml.
INPUTS = (cat.CNN_JSON, cat.CNN_DETAILS, cat.CNN_CONFUSION, cat.CNN_PLOTS)
INPUTS += (cat.ASR_JSON, cat.ASR_TRANSCRIPTS, cat.ASR_PLOTS, cat.ATTENTION_JSON)
INPUTS += (cat.ATTENTION_DETAILS, cat.ATTENTION_TIME, cat.ATTENTION_MEMORY)
INPUTS += (cat.ATTENTION_ERROR,)
PLUS_MINUS = (
    "± is the standard deviation over training seeds; [lo, hi] is a 95 % interval "
    "over seeds and test items (images, clips) where a row has several seeds, over "
    "one training run's test items otherwise, which leaves out run-to-run noise "
    "(docs/noise.md)."
)


def read_transcripts(raw: bytes, where: str) -> pd.DataFrame:
    """A transcripts TSV (id, reference, hypothesis), or a DataError naming it."""
    try:
        frame = pd.read_csv(
            io.BytesIO(raw), sep="\t", quoting=csv.QUOTE_NONE, dtype=str
        ).fillna({"id": "", "reference": "", "hypothesis": ""})
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError too
        raise DataError(f"{where}: {str(exc).strip().splitlines()[-1]}") from exc
    if list(frame.columns) != ["id", "reference", "hypothesis"]:
        raise DataError(f"{where}: expected the header id, reference, hypothesis")
    return frame


def slug(name: str) -> str:
    """A plot's name as a file name: `CNN test confusion` -> cnn-test-confusion."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_charts(root: Path, folder: Path, link: str) -> dict[str, str]:
    """Each chart declared in dvc.yaml (image plots left out) drawn into `folder`:
    {plot name: its Markdown, the PNG under `link` or the data file it misses}."""
    shown = run_json(["dvc", "plots", "show", "--json"], root)
    missing = {}
    for error in shown.get("errors") or []:
        if error.get("type") != "FileNotFoundError":  # a file DVC cannot parse
            where = error.get("source") or error["name"]
            raise DataError(f"{where}: {error.get('msg')}")
        missing.setdefault(error["name"], _missing(error["source"]) + "\n")
    figs = {}
    for name, entries in (shown.get("data") or {}).items():
        # a chart missing one of its files would draw half its lines: not drawn
        if name in missing or not entries or entries[0]["type"] != "vega":
            continue
        png = vl_convert.vegalite_to_png(entries[0]["content"])
        (folder / f"{slug(name)}.png").write_bytes(png)
        figs[name] = f"![{name}]({link}/{slug(name)}.png)\n"
    return figs | missing


def _missing(what: str, stage: str | None = None) -> str:
    made = f" (stage `{stage}`)" if stage else ""
    return f"*Not run yet: {what} is missing{made}.*"


def _charts(figs: dict[str, str], study: str) -> list[str]:
    """The Markdown of the study's charts: the plots named with `study` first."""
    return [line for name, line in figs.items() if name.split()[0] == study]


def data_note(images: Any, speech: Any) -> str:
    """Which data the results come from, and what that means for comparing."""
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


def cnn_section(ws: pd.Series, root: Path, figs: dict[str, str]) -> list[str]:
    """The CNN's results, per-class accuracy and figures (Markdown lines)."""
    lines = ["## CNN on OCTMNIST", ""]
    if not (root / cat.CNN_JSON).is_file():
        lines += [_missing(cat.CNN_JSON, "evaluate_cnn"), ""]
    lines += grouped_tables(CNN, EMPTY, ws)
    per_class = ws.filter(like="test_acc_per_class.").dropna().map(cat.human)
    seeds = get(ws, cat.SEEDS_KEY, cat.CNN_DETAILS, cat.CNN_JSON)
    if len(per_class):
        per_class.index = per_class.index.str.split(".").str[-1].map(cell)
        table = per_class.rename_axis("class").reset_index(name="test accuracy")
        lines += [
            f"Test accuracy per class (mean of {seeds if isinstance(seeds, int) else 1}"
            " seeds; the test split is balanced, 250 images a class):",
            "",
            markdown_table(table),
            "",
        ]
    return lines + _charts(figs, "CNN")


def asr_section(ws: pd.Series, root: Path, figs: dict[str, str]) -> list[str]:
    """The ASR's results, curves and example transcripts (Markdown lines)."""
    lines = ["## Speech recognition on LJ Speech", ""]
    if not (root / cat.ASR_JSON).is_file():
        lines += [_missing(cat.ASR_JSON, "evaluate_asr"), ""]
    lines += [
        "CER and WER are error rates (lower is better; WER above 1 counts inserted "
        "words); Jaccard, cosine and Damerau-Levenshtein (D-L) are textdistance's "
        "normalised similarities between reference and greedy transcript (higher "
        "is better); loss is the test cross-entropy with label smoothing (nats).",
        "",
    ]
    lines += grouped_tables(ASR, EMPTY, ws)
    lines += _charts(figs, "ASR")
    lines += [f"### Example transcripts (first {N_TRANSCRIPTS} test clips)", ""]
    path = root / cat.ASR_TRANSCRIPTS
    if not path.is_file():
        return lines + [_missing(cat.ASR_TRANSCRIPTS, "evaluate_asr"), ""]
    rows = read_transcripts(path.read_bytes(), str(path)).head(N_TRANSCRIPTS)
    # transcripts whole: a cut one hides the errors the table is there to show
    rows = rows.map(cell, width=None).assign(
        id=rows["id"].map(lambda i: f"`{cell(i)}`")
    )
    return lines + [markdown_table(rows), ""]


def _num(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return cat.human(float(value), unit) if unit else cat.short(float(value))


def _by_length(path: Path, column: str) -> pd.DataFrame:
    """A benchmark CSV as one column per method, a row per length."""
    if not path.is_file():
        return pd.DataFrame()
    try:
        frame = pd.read_csv(path)
        frame[column] = pd.to_numeric(frame[column])
        return frame.pivot(index="length", columns="method", values=column)
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"{path}: expected length, method, {column}") from exc


def attention_lengths(root: Path) -> list[str]:
    """Per sequence length: each method's time and peak memory, and the speed-up."""
    times = _by_length(root / cat.ATTENTION_TIME, "seconds")
    if times.empty:
        return []
    memory = _by_length(root / cat.ATTENTION_MEMORY, "peak_bytes")
    table = pd.DataFrame({"L (tokens)": times.index.map("{:,}".format)}, times.index)
    for suffix, label in (("", ""), ("_causal", "causal ")):
        ms = times.reindex(columns=["softmax" + suffix, "mclaurin" + suffix]) * 1e3
        speedup = (ms.iloc[:, 0] / ms.iloc[:, 1]).replace([0, np.inf], np.nan)
        table[f"{label}softmax (ms)"] = ms.iloc[:, 0].map("{:,.3f}".format, "ignore")
        table[f"{label}McLaurin (ms)"] = ms.iloc[:, 1].map("{:,.3f}".format, "ignore")
        table[f"{label}speed-up"] = speedup.map("{:,.2f}×".format, "ignore")
    mib = memory.reindex(index=times.index, columns=["softmax", "mclaurin"]) / 2**20
    table["softmax peak (MiB)"] = mib["softmax"].map("{:,.2f}".format, "ignore")
    table["McLaurin peak (MiB)"] = mib["mclaurin"].map("{:,.2f}".format, "ignore")
    return [markdown_table(table), ""]


def attention_section(root: Path, figs: dict[str, str]) -> list[str]:
    """The McLaurin attention benchmark: headline, per-length table, error, figures."""
    lines = ["## Linear attention (McLaurin series)", ""]
    # the whole record where the benchmark writes one beside its headline numbers
    found = [
        p for p in (cat.ATTENTION_DETAILS, cat.ATTENTION_JSON) if (root / p).is_file()
    ]
    if not found:
        return lines + [_missing(cat.ATTENTION_JSON, "bench_attention"), ""]
    bench = read_json(root / found[0])
    settings = bench.get("settings") if isinstance(bench.get("settings"), dict) else {}
    if settings:
        described = ", ".join(
            f"{k.replace('_', ' ')} {param_text(settings[k])}"
            for k in ("head_dim", "terms", "threads", "device", "timing")
            if k in settings
        )
        lines += [f"Settings: {described}.", ""]
    # the headline numbers with units, plain and causal side by side
    memory = "peak memory, softmax ÷ McLaurin, same length"
    rows = [
        [label, _num(bench.get(key), unit), _num(bench.get(f"{key}_causal"), unit)]
        for label, key, unit in [
            ("speed-up of McLaurin at the longest length", "speedup_at_max_len", "x"),
            (memory, "memory_ratio_at_max_len", "x"),
            ("McLaurin faster from length (measured, tokens)", "crossover_len", ""),
            ("… interpolated (tokens)", "crossover_len_interpolated", ""),
            ("… by operation count (tokens)", "theoretical_crossover_len", ""),
        ]
    ]
    lines += [markdown_table(rows, ["", "non-causal", "causal"]), ""]
    lines += attention_lengths(root)
    errors, causal = bench.get("rel_error"), bench.get("rel_error_causal")
    if isinstance(errors, dict):
        causal = causal if isinstance(causal, dict) else {}
        rows = [[str(k), _num(v), _num(causal.get(str(k)))] for k, v in errors.items()]
        lines += [
            "Relative error of McLaurin attention against softmax, by series terms K:",
            "",
            markdown_table(rows, ["K", "relative error", "causal"]),
            "",
        ]
    return lines + _charts(figs, "Attention")


def render_results(root: Path, figs: dict[str, str], ws: pd.Series) -> str:
    """reports/results.md for the workspace; `figs` maps plot names to the
    Markdown of their charts."""
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
        data_note(ws.get("data.images.source"), ws.get("data.speech.source")),
        "",
    ]
    lines += cnn_section(ws, root, figs)
    lines += asr_section(ws, root, figs)
    lines += attention_section(root, figs)
    return "\n".join(lines).rstrip() + "\n"


def build_report(
    root: str | Path = ".",
    out: str | Path = "reports/results.md",
    figures: str | Path = "reports/figures",
) -> Path:
    """Write the workspace report and its figures (paths relative to `root`)."""
    root = Path(root)
    page, figures_dir = root / out, root / figures
    ws = workspace_frame(root).iloc[0]  # bad JSON fails here, before any plotting
    link = Path(os.path.relpath(figures_dir, page.parent)).as_posix()
    with atomic_dir(figures_dir) as tmp:
        figs = write_charts(root, tmp, link)
    write_text(page, render_results(root, figs, ws))
    return page

"""The README's results table, from params.yaml, metrics/ and dvc.lock (is the
seed record current?), between two markers: `scripts/readme_results.py --write`
puts it there and tests/test_readme.py checks it.
"""

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from hw2.core.errors import DataError
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline.catalog import (
    ASR_JSON,
    ASR_SEEDS,
    ATTENTION_JSON,
    CNN_JSON,
    human,
    scale_for,
    short,
)
from hw2.pipeline.experiments import LABELS
from hw2.pipeline.runs import flatten, markdown_table, read_json, workspace_frame
from hw2.pipeline.seed_record import LOCK, match, read_record

BEGIN = "<!-- results: generated from metrics/ by scripts/readme_results.py -->"
END = "<!-- /results -->"


def _metrics(root: Path, path: str) -> dict[str, Any]:
    tree = read_json(root / path) if (root / path).is_file() else {}
    return flatten(tree) if isinstance(tree, dict) else {}


def _noise(flat: dict[str, Any], key: str) -> str:
    """The value, ± its std over seeds, [its 95 % interval]."""
    value, std, ci = (flat.get(key + s) for s in ("", "_std", "_ci95"))
    if not isinstance(value, int | float):
        return "–"
    scale = scale_for([float(value)])
    text = scale.text(value) + (f" ± {scale.text(std)}" if std is not None else "")
    ok = isinstance(ci, list) and len(ci) == 2
    return text + (f" [{scale.text(ci[0])}, {scale.text(ci[1])}]" if ok else "")


def _seeds(flat: dict[str, Any], key: str) -> int:
    return len(flat.get(f"{key}_per_seed") or [None])


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def cnn_row(p: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The CNN's setting and its test and validation accuracy."""
    sizes = [p.get(f"data.images.sample.n_{s}") for s in ("train", "val", "test")]
    data = " / ".join(short(float(n)) for n in sizes if isinstance(n, int))
    full = p.get("data.images.source") == "full"
    data = "OCTMNIST" if full else f"{data} phantom images"
    pool = "max-pooling" if p.get("cnn.maxpool") else "stride-2, no pooling"
    setting = (
        f"{data}; lr {p.get('lr')}, {pool}, {_n(_seeds(flat, 'test_acc'), 'seed')}"
    )
    test, val = _noise(flat, "test_acc"), _noise(flat, "val_acc")
    result = f"test accuracy {test}; validation {val}"
    return ["CNN (study 2)", setting, result]


def asr_row(p: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The ASR's setting and its test error rates and similarity."""
    n = p.get("data.speech.sample.n_clips")
    data = f"{short(float(n))} synthetic clips" if isinstance(n, int) else "sample"
    data = "LJ Speech 1.1" if p.get("data.speech.source") == "full" else data
    seeds = _n(_seeds(flat, "cer"), "seed")
    setting = f"{data}; {p.get('decoder')} decoder, {p.get('asr.attention')} "
    setting += f"attention, {seeds}"
    cer, wer, jac = (_noise(flat, k) for k in ("cer", "wer", "jaccard"))
    result = f"test CER {cer}, WER {wer}, Jaccard {jac}"
    return ["ASR (study 3)", setting, result]


def seeds_row(record: dict[str, Any], lock: Any) -> list[str] | None:
    """`make homework`'s test CER per configuration, marked stale where `lock`
    (dvc.lock) differs; None without a configuration."""
    found = {c: flatten(record[c]["metrics"]) for c in LABELS if c in record}
    if not found:
        return None
    counts = {_seeds(flat, "cer") for flat in found.values()}
    seeds = _n(counts.pop(), "seed") if len(counts) == 1 else "several seeds"
    setting = f"`make homework`: each configuration with {seeds}, the same data"
    if match([record], lock).stale:
        setting += " (**stale**: other code, data or params than dvc.lock's)"
    parts = [f"{LABELS[c]} {_noise(flat, 'cer')}" for c, flat in found.items()]
    return ["ASR over seeds (study 3)", setting, "test CER " + "; ".join(parts)]


def attention_row(p: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The benchmark's setting and McLaurin's speed-up and memory at its longest L."""
    lengths, threads = p.get("attention.lengths"), p.get("attention.threads")
    longest = short(float(max(lengths))) if lengths else "–"
    threads = _n(threads, "thread") if isinstance(threads, int) else "all threads"
    d, k = p.get("attention.head_dim"), p.get("attention.terms")
    setting = f"D = {d}, K = {k}, L = {longest}, {threads}"
    speed, causal, memory = (
        next((flat[k] for k in keys if flat.get(k) is not None), None)
        for keys in [
            ("speedup", "speedup_at_max_len"),
            ("speedup_causal", "speedup_at_max_len_causal"),
            ("memory_ratio", "memory_ratio_at_max_len"),
        ]
    )
    parts = []
    if isinstance(speed, int | float):
        parts.append(f"McLaurin {human(speed, 'x')} faster than softmax")
        if isinstance(causal, int | float):
            parts[-1] += f" (causal {human(causal, 'x')})"
    if isinstance(memory, int | float) and math.isfinite(memory):
        parts.append(f"{human(memory, 'x')} less peak memory")
    return ["attention (study 1)", setting, ", ".join(parts) or "–"]


def results_table(root: str | Path = ".") -> str:
    """The README's results table for the project at `root`."""
    root = Path(root)
    params = workspace_frame(root).iloc[0].to_dict()
    rows = [
        cnn_row(params, _metrics(root, CNN_JSON)),
        asr_row(params, _metrics(root, ASR_JSON)),
        attention_row(params, _metrics(root, ATTENTION_JSON)),
    ]
    if (root / ASR_SEEDS).is_file():
        record = read_record((root / ASR_SEEDS).read_bytes(), str(root / ASR_SEEDS))
        try:
            lock = parse_yaml((root / LOCK).read_text())
        except (OSError, UnicodeDecodeError, YAMLError):
            lock = None
        rows[2:2] = [row for row in [seeds_row(record, lock)] if row]
    return markdown_table(pd.DataFrame(rows, columns=["study", "setting", "result"]))


def replace_block(text: str, table: str) -> str:
    """`text` with the table between BEGIN and END replaced by `table`."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise DataError(f"README.md: no {BEGIN} ... {END} block")
    return pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text, count=1)


def readme_table(text: str) -> str:
    """The table between the README's markers."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise DataError(f"README.md: no {BEGIN} ... {END} block")
    return text[start + len(BEGIN) : end].strip()

"""The README's results table, made from params.yaml and metrics/ alone (and
dvc.lock, to tell whether `make homework`'s seed record is current).

The README holds it between two markers; `python scripts/readme_results.py
--write` puts the current one there after a rerun, and tests/test_readme.py fails
when the README's table is not what the committed metrics give, so the README
never quotes a number the metrics do not back.
"""

import math
import re
from pathlib import Path
from typing import Any

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
from hw2.pipeline.runs import flatten, read_json
from hw2.pipeline.seed_record import LOCK, match, read_record

BEGIN = "<!-- results: generated from metrics/ by scripts/readme_results.py -->"
END = "<!-- /results -->"


def _metrics(root: Path, path: str) -> dict[str, Any]:
    file = root / path
    tree = read_json(file) if file.is_file() else {}
    return flatten(tree) if isinstance(tree, dict) else {}


def _first(flat: dict[str, Any], *keys: str) -> Any:
    return next((flat[k] for k in keys if flat.get(k) is not None), None)


def _with_noise(flat: dict[str, Any], key: str) -> str:
    """The value, ± its std over seeds, [its 95 % interval] (catalog's format)."""
    value = flat.get(key)
    if not isinstance(value, int | float):
        return "–"
    scale = scale_for([float(value)])
    text = scale.text(value)
    if isinstance(flat.get(f"{key}_std"), int | float):
        text += f" ± {scale.text(flat[f'{key}_std'])}"
    ci = flat.get(f"{key}_ci95")
    if isinstance(ci, list) and len(ci) == 2:
        text += f" [{scale.text(ci[0])}, {scale.text(ci[1])}]"
    return text


def _seeds(flat: dict[str, Any], key: str) -> int:
    per_seed = flat.get(f"{key}_per_seed")
    return len(per_seed) if isinstance(per_seed, list) and per_seed else 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def cnn_row(params: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The CNN's setting and its test and validation accuracy."""
    if params.get("data.images.source") == "full":
        data = "OCTMNIST"
    else:
        sizes = [
            params.get(f"data.images.sample.n_{s}") for s in ("train", "val", "test")
        ]
        shown = " / ".join(short(float(n)) for n in sizes if isinstance(n, int))
        data = f"{shown} phantom images"
    pool = "max-pooling" if params.get("cnn.maxpool") else "stride-2, no pooling"
    setting = (
        f"{data}; lr {params.get('lr')}, {pool}, "
        f"{_plural(_seeds(flat, 'test_acc'), 'seed')}"
    )
    result = (
        f"test accuracy {_with_noise(flat, 'test_acc')}; "
        f"validation {_with_noise(flat, 'val_acc')}"
    )
    return ["CNN (study 2)", setting, result]


def asr_row(params: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The ASR's setting and its test error rates and similarity."""
    if params.get("data.speech.source") == "full":
        data = "LJ Speech 1.1"
    else:
        n = params.get("data.speech.sample.n_clips")
        data = f"{short(float(n))} synthetic clips" if isinstance(n, int) else "sample"
    setting = (
        f"{data}; {params.get('decoder')} decoder, {params.get('asr.attention')} "
        f"attention, {_plural(_seeds(flat, 'cer'), 'seed')}"
    )
    result = (
        f"test CER {_with_noise(flat, 'cer')}, WER {_with_noise(flat, 'wer')}, "
        f"Jaccard {_with_noise(flat, 'jaccard')}"
    )
    return ["ASR (study 3)", setting, result]


def _lock(root: Path) -> Any:
    """dvc.lock, or None where it is absent or not YAML."""
    try:
        return parse_yaml((root / LOCK).read_text())
    except (OSError, UnicodeDecodeError, YAMLError):
        return None


def seeds_row(record: dict[str, Any], lock: Any) -> list[str] | None:
    """`make homework`'s ASR configurations over seeds (metrics/asr_seeds.json):
    each one's test CER with its std and interval, and a word when the record was
    measured on other code, data or params than `lock` (dvc.lock) holds; None
    without a configuration."""
    parts, counts = [], set()
    for config, label in LABELS.items():
        if config in record:
            flat = flatten(record[config]["metrics"])
            parts.append(f"{label} {_with_noise(flat, 'cer')}")
            counts.add(_seeds(flat, "cer"))
    if not parts:
        return None
    seeds = _plural(counts.pop(), "seed") if len(counts) == 1 else "several seeds"
    setting = f"`make homework`: each configuration with {seeds}, the same data"
    if match([record], lock).stale:
        setting += " (**stale**: other code, data or params than dvc.lock's)"
    return ["ASR over seeds (study 3)", setting, "test CER " + "; ".join(parts)]


def attention_row(params: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The benchmark's setting and McLaurin's speed-up and memory at its longest L."""
    lengths = params.get("attention.lengths")
    longest = max(lengths) if isinstance(lengths, list) and lengths else None
    threads = params.get("attention.threads")
    setting = (
        f"D = {params.get('attention.head_dim')}, K = {params.get('attention.terms')}, "
        f"L = {short(float(longest)) if longest else '–'}, "
        f"{_plural(threads, 'thread') if isinstance(threads, int) else 'all threads'}"
    )
    speed = _first(flat, "speedup", "speedup_at_max_len")
    causal = _first(flat, "speedup_causal", "speedup_at_max_len_causal")
    memory = _first(flat, "memory_ratio", "memory_ratio_at_max_len")
    parts = []
    if isinstance(speed, int | float):
        parts.append(f"McLaurin {human(speed, 'x')} faster than softmax")
    if isinstance(causal, int | float):
        parts[-1:] = [f"{parts[-1]} (causal {human(causal, 'x')})"] if parts else []
    if isinstance(memory, int | float) and math.isfinite(memory):
        parts.append(f"{human(memory, 'x')} less peak memory")
    return ["attention (study 1)", setting, ", ".join(parts) or "–"]


def results_table(root: str | Path = ".") -> str:
    """The README's results table for the project at `root`."""
    root = Path(root)
    try:
        params = flatten(parse_yaml((root / "params.yaml").read_text()) or {})
    except (OSError, YAMLError) as exc:
        raise DataError(f"{root / 'params.yaml'}: cannot read ({exc})") from exc
    rows = [
        cnn_row(params, _metrics(root, CNN_JSON)),
        asr_row(params, _metrics(root, ASR_JSON)),
        attention_row(params, _metrics(root, ATTENTION_JSON)),
    ]
    record = root / ASR_SEEDS
    if record.is_file():
        configs = read_record(record.read_bytes(), str(record))
        seeds = seeds_row(configs, _lock(root))
        rows[2:2] = [seeds] if seeds else []
    lines = ["| study | setting | result |", "|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


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

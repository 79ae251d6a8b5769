"""The README's results table, from params.yaml, metrics/ and dvc.lock (is the
seed record current?), between two markers. A documentation tool, not part of the
pipeline (as the rehearsal sits with the benchmarks):

    python scripts/readme_results.py           # print it
    python scripts/readme_results.py --write   # put it in README.md

Run it after `dvc repro` and commit README.md with the metrics: tests/test_readme.py
fails while the README's table is not the committed metrics' one.
"""

import argparse
import math
import re
from pathlib import Path
from typing import Any

from hw2.core.errors import DataError
from hw2.core.io import write_text
from hw2.core.params import YAMLError, parse_yaml
from hw2.core.stage import run_stage
from hw2.pipeline import catalog as cat
from hw2.pipeline.experiments import LABELS
from hw2.pipeline.runs import flatten, markdown_table, read_json, workspace_frame
from hw2.pipeline.seed_record import LOCK, match, read_record

BEGIN = "<!-- results: generated from metrics/ by scripts/readme_results.py -->"
END = "<!-- /results -->"
BLOCK = re.compile(re.escape(BEGIN) + "(.*?)" + re.escape(END), re.S)


def _metrics(root: Path, path: str) -> dict[str, Any]:
    return flatten(read_json(root / path)) if (root / path).is_file() else {}


def _noise(flat: dict[str, Any], key: str) -> str:
    """The value, ± its std over seeds, [its 95 % interval]."""
    value, ci = flat.get(key), flat.get(key + cat.CI_SUFFIX)
    std = cat.seed_std(flat.get, key)
    ci = ci if isinstance(ci, list) and len(ci) == 2 else None
    return cat.spread_text(value, std, ci) if isinstance(value, int | float) else "–"


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _seeds(flat: dict[str, Any], key: str) -> str:
    return _n(len(flat.get(f"{key}_per_seed") or [None]), "seed")


def cnn_row(p: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The CNN's setting and its test and validation accuracy."""
    sizes = [p.get(f"data.images.sample.n_{s}") for s in ("train", "val", "test")]
    data = " / ".join(cat.short(n) for n in sizes if isinstance(n, int))
    data += " phantom images"
    data = "OCTMNIST" if p.get("data.images.source") == "full" else data
    pool = "max-pooling" if p.get("cnn.maxpool") else "stride-2, no pooling"
    setting = f"{data}; lr {p.get('lr')}, {pool}, {_seeds(flat, 'test_acc')}"
    result = f"test accuracy {_noise(flat, 'test_acc')}; validation "
    return ["CNN (study 2)", setting, result + _noise(flat, "val_acc")]


def asr_row(p: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The ASR's setting and its test error rates and similarity."""
    n = p.get("data.speech.sample.n_clips")
    data = f"{cat.short(n)} synthetic clips" if isinstance(n, int) else "sample"
    data = "LJ Speech 1.1" if p.get("data.speech.source") == "full" else data
    setting = f"{data}; {p.get('decoder')} decoder, {p.get('asr.attention')} "
    setting += f"attention, {_seeds(flat, 'cer')}"
    cer, wer, jac = (_noise(flat, k) for k in ("cer", "wer", "jaccard"))
    return ["ASR (study 3)", setting, f"test CER {cer}, WER {wer}, Jaccard {jac}"]


def seeds_row(record: dict, lock: Any, results: dict) -> list[str] | None:
    """`make homework`'s test CER per configuration, marked stale where `lock`
    (dvc.lock) and `results` (asr.json) match none; None without a configuration."""
    found = {c: flatten(record[c]["metrics"]) for c in LABELS if c in record}
    if not found:
        return None
    counts = {_seeds(flat, "cer") for flat in found.values()}
    seeds = counts.pop() if len(counts) == 1 else "several seeds"
    setting = f"`make homework`: each configuration with {seeds}, the same data"
    if match([record], lock, results).stale:
        setting += " (**stale**: other code, data or params than dvc.lock's)"
    parts = [f"{LABELS[c]} {_noise(flat, 'cer')}" for c, flat in found.items()]
    return ["ASR over seeds (study 3)", setting, "test CER " + "; ".join(parts)]


def attention_row(p: dict[str, Any], flat: dict[str, Any]) -> list[str]:
    """The benchmark's setting and McLaurin's speed-up and memory at its longest L."""
    lengths, threads = p.get("attention.lengths"), p.get("attention.threads")
    longest = cat.short(float(max(lengths))) if lengths else "–"
    threads = _n(threads, "thread") if isinstance(threads, int) else "all threads"
    d, k = p.get("attention.head_dim"), p.get("attention.terms")
    setting = f"D = {d}, K = {k}, L = {longest}, {threads}"
    number = {k: v for k, v in flat.items() if isinstance(v, int | float)}
    speed, causal = number.get("speedup"), number.get("speedup_causal")
    memory = number.get("memory_ratio")
    parts = []
    if speed is not None:
        causal = f" (causal {cat.human(causal, 'x')})" if causal is not None else ""
        parts.append(f"McLaurin {cat.human(speed, 'x')} faster than softmax{causal}")
    if memory is not None and math.isfinite(memory):
        parts.append(f"{cat.human(memory, 'x')} less peak memory")
    return ["attention (study 1)", setting, ", ".join(parts) or "–"]


def results_table(root: str | Path = ".") -> str:
    """The README's results table for the project at `root`."""
    root = Path(root)
    params = workspace_frame(root).iloc[0].to_dict()
    asr = _metrics(root, cat.ASR_JSON)
    rows = [cnn_row(params, _metrics(root, cat.CNN_JSON)), asr_row(params, asr)]
    rows.append(attention_row(params, _metrics(root, cat.ATTENTION_JSON)))
    seeds = root / cat.ASR_SEEDS
    if seeds.is_file():
        record = read_record(seeds.read_bytes(), str(seeds))
        try:
            lock = parse_yaml((root / LOCK).read_text())
        except (OSError, UnicodeDecodeError, YAMLError):
            lock = None
        rows[2:2] = [row for row in [seeds_row(record, lock, asr)] if row]
    return markdown_table(rows, ["study", "setting", "result"])


def replace_block(text: str, table: str) -> str:
    """`text` with the table between BEGIN and END replaced by `table`."""
    readme_table(text)  # a DataError where the markers are missing
    return BLOCK.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text, count=1)


def readme_table(text: str) -> str:
    """The table between the README's markers."""
    found = BLOCK.search(text)
    if found is None:
        raise DataError(f"README.md: no {BEGIN} ... {END} block")
    return found[1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="replace the table in README.md"
    )
    table = results_table(".")
    if not parser.parse_args().write:
        print(table)
        return
    readme = Path("README.md")
    write_text(readme, replace_block(readme.read_text(), table))
    print("readme_results: README.md's results table written")


if __name__ == "__main__":
    run_stage(main)

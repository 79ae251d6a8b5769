"""The README and its docs/ pages: short, their links resolve, the repository map
lists every library module, and the results table is the committed metrics'."""

import json
import re
from pathlib import Path

import asr_seed_runs
import yaml
from helpers import squeezed
from readme_results import (
    BEGIN,
    END,
    readme_table,
    replace_block,
    results_table,
)

from hw2.pipeline.seed_record import fingerprint

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 300


def map_modules() -> set[str]:
    """src/hw2/... paths of the modules docs/layout.md's repository map names."""
    text = (ROOT / "docs" / "layout.md").read_text()
    block = text.split("```")[1]
    found, wing = set(), None
    for line in block.splitlines():
        if m := re.match(r"^  (\w+)/\s", line):
            wing = m.group(1)
        elif (m := re.match(r"^    (\w+\.py)\s", line)) and wing:
            found.add(f"src/hw2/{wing}/{m.group(1)}")
    return found


def test_repository_map_matches_the_tree():
    modules = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "src" / "hw2").rglob("*.py")
        if p.name != "__init__.py"
    }
    assert map_modules() == modules


def test_readme_is_short_and_starts_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_LINES
    first_block = "\n".join(lines[: lines.index("```", 3) + 1])
    assert "make repro" in first_block and "make test" in first_block


def links(text: str) -> list[str]:
    """Relative link targets of a Markdown text, HTML comments left out."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t)]


def test_links_of_the_readme_and_docs_resolve():
    pages = [README, *(ROOT / "docs").glob("*.md")]
    for page in pages:
        for target in links(page.read_text()):
            assert (page.parent / target).exists(), f"{page.name}: {target}"
    linked = {Path(t).name for t in links(README.read_text())}
    docs = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert docs <= linked, f"docs/ pages the README does not link: {docs - linked}"


def test_results_table_is_what_the_committed_metrics_give():
    """After a rerun: `python scripts/readme_results.py --write`."""
    assert readme_table(README.read_text()) == results_table(ROOT)


def test_results_table_follows_the_metrics(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "params.yaml").write_text(
        "lr: 0.1\ncnn: {maxpool: false}\ndecoder: lstm\n"
        "asr: {attention: mclaurin}\n"
        "data: {images: {source: full}, speech: {source: full}}\n"
        "attention: {head_dim: 8, terms: 3, lengths: [64, 1024], threads: 2}\n"
    )
    (tmp_path / "metrics/cnn.json").write_text(
        '{"test_acc": 0.81234, "test_acc_std": 0.01, "test_acc_per_seed": [0.8, 0.82],'
        ' "test_acc_ci95": [0.79, 0.83], "val_acc": 0.9}'
    )
    (tmp_path / "metrics/asr.json").write_text('{"cer": 0.25, "wer": 0.5}')
    (tmp_path / "metrics/attention.json").write_text('{"speedup": 3.5}')
    table = squeezed(results_table(tmp_path))
    assert (
        "| CNN (study 2) | OCTMNIST; lr 0.1, stride-2, no pooling, 2 seeds | test "
        "accuracy 0.8123 ± 0.0100 [0.7900, 0.8300]; validation 0.9000 |" in table
    )
    assert "| LJ Speech 1.1; lstm decoder, mclaurin attention, 1 seed |" in table
    assert "| D = 8, K = 3, L = 1,024, 2 threads | McLaurin 3.500× faster" in table
    assert "over seeds" not in table  # no metrics/asr_seeds.json: no row
    lock = asr_seed_runs.lock("transformer")
    seeds = {"cer": 0.2, "cer_std": 0.01, "cer_per_seed": [0.19, 0.21]}
    record = {
        "transformer": {"metrics": seeds, "fingerprint": fingerprint(lock)},
        "lstm": {"metrics": {"cer": 0.3}, "fingerprint": {}},
    }
    (tmp_path / "metrics/asr_seeds.json").write_text(json.dumps(record))
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    row = squeezed(results_table(tmp_path)).splitlines()[4]
    assert row == (
        "| ASR over seeds (study 3) | `make homework`: each configuration with "
        "several seeds, the same data | test CER Transformer 0.2000 ± 0.0100; "
        "LSTM 0.3000 |"
    )
    # dvc.lock's ASR run is none the record measured: the row says so
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(asr_seed_runs.lock(code="c1")))
    assert "(**stale**: other code, data or params" in results_table(tmp_path)
    text = replace_block(f"a\n{BEGIN}\nold\n{END}\nb", "T")
    assert text == f"a\n{BEGIN}\nT\n{END}\nb"

"""`make exps`: the homework's experiments in a 120-column terminal, readable; and
the way back from a failed `dvc exp run -S`.

On a copy of the session's tiny reproduced project (tests/conftest.py),
experiments run as `make homework` names them (`asr-transformer-seed-43`, ...),
varying lr, the decoder, the attention, the seed and max-pooling. Plain `dvc exp
show` squeezes such a table into `…` at 120 columns; `make exps` keeps what a
person compares, and so does DVC's own table narrowed with `--drop`/`--keep` as
the README shows. `--only-changed` keeps the run names whole, and the headline
numbers: the metrics (2 of the CNN, 6 of the ASR), the changed params and the
changed data deps (models, metrics files) are more than 120 columns hold beside
the names, so DVC folds columns into `…` from the right, all but the first of
each kind in its full table (test_acc, lr: the first dep never changes). The
studies write their headline metric first and their spreads as lists, which DVC
leaves out, so the CNN's accuracies and the ASR's CER come before any fold.
"""

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_reproduced, tool_env

from hw2.oct.metric_keys import METRICS

pytestmark = pytest.mark.e2e

VENV = Path(sys.prefix)  # stands in for the Makefile's .venv
# what each experiment sets, by its name
EXPERIMENTS = {
    "cnn-lr-0.001": "lr=0.001",
    "cnn-nopool-lr-0.01": "cnn.maxpool=false",
    "asr-lstm-seed-42": "decoder=lstm",
    "asr-mclaurin-seed-42": "asr.attention=mclaurin",
    "asr-transformer-seed-43": "asr.seed=43",
}


def sh(cmd: list[str], repo: Path, ok: bool = True, **env: str) -> str:
    proc = subprocess.run(
        cmd,
        cwd=repo,
        env=tool_env(
            PATH=f"{VENV / 'bin'}:{os.environ['PATH']}",
            PYTHONPATH=str(repo / "src"),
            OMP_NUM_THREADS="1",
            **env,
        ),
        capture_output=True,
        text=True,
    )
    assert (proc.returncode == 0) == ok, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_reproduced) -> Path:
    """A copy of the session's tiny reproduced project, then the experiments run."""
    repo = copy_reproduced(
        tiny_reproduced.root, tmp_path_factory.mktemp("exps") / "project"
    )
    for name, setting in EXPERIMENTS.items():  # each from the commit, as queued
        sh(["git", "checkout", "-q", "params.yaml"], repo)
        sh(["dvc", "exp", "run", "-n", name, "-S", setting], repo)
    return repo


def table(text: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the table (cells two spaces apart, rule skipped)."""
    lines = [line.strip() for line in text.splitlines() if line.startswith("  ")]
    header, _rule, *rows = [re.split(r"\s{2,}", line) for line in lines]
    assert all(len(row) == len(header) for row in rows), text
    return header, rows


def test_make_exps_fits_120_columns_with_the_numbers(repo):
    out = sh(["make", "exps", f"VENV={VENV}"], repo, COLUMNS="120")
    drawn = out[out.index("\n") + 1 :]  # after make's echo of the command
    assert max(len(line) for line in drawn.splitlines()) <= 120
    assert "…" not in drawn  # nothing squeezed, not even a name
    header, rows = table(drawn)
    shown = ["test acc", "CER", "WER", "lr", "decoder", "attention", "seed"]
    assert header == ["run", *shown, "max-pool"], header
    cells = {name: [row[header.index(name)] for row in rows] for name in header}
    assert cells["run"] == ["workspace", "main", *reversed(EXPERIMENTS)]
    # numbers, as the metrics files hold them
    assert all(0 <= float(v) <= 1 for v in cells["test acc"]), cells["test acc"]
    assert all(float(v) >= 0 for v in cells["CER"] + cells["WER"]), cells
    assert set(cells["lr"]) == {"0.01", "0.001"}
    assert set(cells["decoder"]) == {"transformer", "lstm"}
    assert set(cells["attention"]) == {"softmax", "mclaurin"}
    assert set(cells["seed"]) == {"42", "43"}
    assert set(cells["max-pool"]) == {"true", "false"}
    # each experiment shows its own change
    row = dict(zip(cells["run"], rows, strict=True))
    assert row["asr-lstm-seed-42"][header.index("decoder")] == "lstm"
    assert row["cnn-nopool-lr-0.01"][header.index("max-pool")] == "false"


def test_a_failed_run_is_undone_by_the_readmes_commands(repo):
    sh(["git", "checkout", "-q", "--", "."], repo)  # back at the commit
    sh(["dvc", "checkout", "-q"], repo)
    sh(["dvc", "exp", "run", "-S", "lr=abc"], repo, ok=False)
    status = sh(["git", "status", "--porcelain"], repo)  # what the failure left
    # the preflight stage refused the value before DVC deleted any output
    assert status == " M params.yaml\n"
    sh(["git", "checkout", "params.yaml", "metrics"], repo)
    sh(["dvc", "checkout"], repo)
    assert sh(["git", "status", "--porcelain"], repo) == ""
    assert "up to date" in sh(["dvc", "status"], repo)


# the README's narrowed `dvc exp show`: DVC's own table, the columns a person compares
# (the seed and max-pooling are in the homework's run names)
KEPT = ["test_acc", "cer", "wer", "lr", "decoder", "asr.attention"]
KEEP = "^(" + "|".join(["Experiment", *KEPT]).replace(".", "\\.") + ")$"


def test_dvc_exp_show_narrowed_as_the_readme_says_keeps_the_numbers(repo):
    readme = (repo / "README.md").read_text()
    assert f"--drop '.*' --keep '{KEEP}'" in readme
    out = sh(
        ["dvc", "exp", "show", "--no-pager", "--drop", ".*", "--keep", KEEP],
        repo,
        COLUMNS="120",
    )
    print(out)
    assert max(len(line) for line in out.splitlines()) <= 120
    header = out.splitlines()[1].split()
    assert header[0] == "Experiment"
    assert sorted(header[1:]) == sorted(KEPT), header
    rows = [line.split() for line in out.splitlines()[3:] if "[" in line]
    assert len(rows) == len(EXPERIMENTS)
    for row in rows:  # the numbers whole, whatever the names lost
        *_, acc, cer, wer, lr, decoder, attention = row
        assert lr in {"0.01", "0.001"} and decoder in {"transformer", "lstm"}, row
        assert attention in {"softmax", "mclaurin"}, row
        for value in (acc, cer, wer):
            assert "…" not in value
            float(value)


def test_dvc_exp_show_only_changed_keeps_the_names_and_headlines_whole(repo):
    out = sh(
        ["dvc", "exp", "show", "--no-pager", "--only-changed"], repo, COLUMNS="120"
    )
    print(out)
    assert max(len(line) for line in out.splitlines()) <= 120
    names = re.findall(r"\[([\w.-]+)\]", out)
    assert sorted(names) == sorted(EXPERIMENTS)
    header = out.splitlines()[1].split()
    # the first metric stays whole (DVC never folds the first of a kind), and the
    # studies write their headline first: the CNN's test accuracy, unless it is the
    # same in every run (tiny data can do that) and --only-changed drops it
    table = list(csv.DictReader(io.StringIO(sh(["dvc", "exp", "show", "--csv"], repo))))
    changed = [k for k in METRICS if len({row[k] for row in table}) > 1]
    assert header[:3] == ["Experiment", "Created", changed[0]], (header, changed)
    assert "cer" in header, header  # the ASR's headline, whole too
    # each run's own: "├── 1a2b3c4 [name]   06:09 AM   0.7296 …   0.185 …"
    lines = [line for line in out.splitlines() if "[" in line]
    rows = [line.split("]", 1)[1].split()[2:] for line in lines]  # after the time
    assert len(rows) == len(EXPERIMENTS)
    accs, cers = ([r[header.index(k) - 2] for r in rows] for k in (changed[0], "cer"))
    assert all(0 <= float(a) <= 1 for a in accs) and all(float(c) >= 0 for c in cers)

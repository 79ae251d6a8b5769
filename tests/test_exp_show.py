"""`make exps`: the homework's experiments in a 120-column terminal, readable; and
the way back from a failed `dvc exp run -S`.

A tiny copy of the project is reproduced and committed, then two experiments run
as the README has them (`-S lr=...`, `-S decoder=...`). Plain `dvc exp show` lists
every param, metric and file hash (about 140 columns) and so squeezes every cell
to `…`; `make exps` keeps what a person compares.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_project, tool_env

pytestmark = pytest.mark.e2e

VENV = Path(sys.prefix)  # stands in for the Makefile's .venv
ALWAYS = ("lr", "decoder", "test_acc", "cer", "wer")


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
def repo(tmp_path_factory) -> Path:
    """The project, tiny, reproduced and committed, then two experiments run."""
    repo = copy_project(tmp_path_factory.mktemp("exps") / "project")
    sh(["git", "init", "-q"], repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "init"], repo)
    sh(["dvc", "repro"], repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "repro"], repo)
    sh(["dvc", "exp", "run", "-S", "lr=0.001"], repo)
    sh(["dvc", "exp", "run", "-S", "decoder=lstm"], repo)
    return repo


def table(text: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a table DVC drew (rich: cells two spaces apart)."""
    lines = [line.strip() for line in text.splitlines() if line.startswith("  ")]
    header, *rows = [re.split(r"\s{2,}", line) for line in lines]
    assert all(len(row) == len(header) for row in rows), text
    return header, rows


def test_make_exps_fits_120_columns_with_the_numbers(repo):
    out = sh(["make", "exps", f"VENV={VENV}"], repo, COLUMNS="120")
    drawn = out[out.index("─") - 1 :]  # after make's echo of the command
    assert max(len(line) for line in drawn.splitlines()) <= 120
    header, rows = table(drawn)
    assert set(ALWAYS) <= set(header), header
    assert len(rows) == 4  # workspace, the commit, its two experiments
    cells = {name: [row[header.index(name)] for row in rows] for name in header}
    for name in ALWAYS:
        assert "…" not in cells[name], (name, cells[name])
    # numbers, as DVC read them from the metrics files
    assert all(0 <= float(v) <= 1 for v in cells["test_acc"]), cells["test_acc"]
    assert all(float(v) >= 0 for v in cells["cer"] + cells["wer"]), cells
    assert set(cells["lr"]) == {"0.01", "0.001"}
    assert set(cells["decoder"]) == {"transformer", "lstm"}
    assert not [h for h in header if "/" in h or h == "Created"]  # no file hashes


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

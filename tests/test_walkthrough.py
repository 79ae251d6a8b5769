"""The README's commands, as a user meets them, tiny (make test-e2e).

The project (tiny sizes) in a temporary git repository runs `dvc repro` once (the
session's reproduced project, tests/conftest.py: it must write only its outputs);
then a copy of that repository runs the user-facing commands after it in the
README's order. Every command must succeed and change exactly what it is meant to
in `git status`: the stages' declared outputs, params.yaml for `-S`, reports/ for
`make report`, and nothing else (what `dvc plots diff`, the PR comment and the
queue write lands in git-ignored places). `-S lr` must run only the CNN branch.

(Each command reads only the workspace and DVC's cache, so the order the README
gives them in is the one a user meets; a second, shuffled walk doubled the time
and found nothing the first did not.)
"""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from helpers import copy_reproduced, sh

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e

# The environment this test runs in stands in for the Makefile's .venv.
VENV = Path(sys.prefix)
# Outputs a stage writes into git (cache: false), by branch of the DAG.
CNN_OUTS = ("metrics/train_cnn/", "metrics/cnn.json", "metrics/cnn_details.json")
CNN_OUTS += ("metrics/cnn_confusion.csv",)
ASR_OUTS = ("metrics/train_asr/", "metrics/asr.json", "metrics/asr_details.json")
ASR_OUTS += ("metrics/asr_transcripts.tsv",)
REPORT_OUTS = ("reports/results.md", "reports/figures/")
# name: (command, paths whose git status it may change; none: it changes nothing)
STEPS = {
    "exp run lr": (
        ["dvc", "exp", "run", "-S", "lr=0.001"],
        ("params.yaml", "dvc.lock", *CNN_OUTS, *REPORT_OUTS),
    ),
    "exp run decoder": (
        ["dvc", "exp", "run", "-S", "decoder=lstm"],
        ("params.yaml", "dvc.lock", *ASR_OUTS, *REPORT_OUTS),
    ),
    "metrics diff": (["dvc", "metrics", "diff"], ()),
    "plots diff": (["dvc", "plots", "diff"], ()),
    "pr comment": (
        ["python", "scripts/pr_comment.py", "--base", "HEAD", "--out", "comment.md"],
        (),
    ),
    # two seeds (not 3) keep it short and still make the ASR's seed rows
    "homework": (
        ["make", "homework", f"VENV={VENV}", "JOBS=2", "MCLAURIN=0", "SEEDS=2"],
        ("metrics/asr_seeds.json", "reports/experiments.md"),
    ),
    "report": (
        ["make", "report", f"VENV={VENV}"],
        ("dvc.lock", *REPORT_OUTS, "reports/experiments.md"),
    ),
}
# the stages each `-S` must run (preflight tracks the whole params.yaml)
RUNS = {
    "exp run lr": {"preflight", "train_cnn", "evaluate_cnn", "report"},
    "exp run decoder": {"preflight", "train_asr", "evaluate_asr", "report"},
}


def run(cmd: list[str], repo: Path) -> str:
    env = {"PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}
    return sh(cmd, repo, env={**env, "PYTHONPATH": str(repo / "src")}).stdout


def git_status(repo: Path) -> set[str]:
    """`git status` entries ("XY path"), every untracked file listed."""
    out = run(["git", "status", "--porcelain", "--untracked-files=all"], repo)
    return set(out.splitlines())


def paths(entries: set[str]) -> set[str]:
    return {entry[3:] for entry in entries}


def outside(changed: set[str], allowed: tuple[str, ...]) -> set[str]:
    """Changed paths that are none of `allowed` (a trailing / allows a folder)."""
    return {
        p
        for p in changed
        if not any(p == a or (a.endswith("/") and p.startswith(a)) for a in allowed)
    }


def test_repro_writes_only_its_outputs(tiny_reproduced):
    changed = set(tiny_reproduced.changed)
    outs = ("dvc.lock", "metrics/", *REPORT_OUTS)
    assert not outside(changed, outs), "dvc repro wrote outside its outputs"
    assert {"dvc.lock", "metrics/cnn.json", "metrics/asr.json"} <= changed


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, tiny_reproduced) -> Path:
    """The project, tiny, in a git repository: `dvc repro` run and committed."""
    return copy_reproduced(
        tiny_reproduced.root, tmp_path_factory.mktemp("walkthrough") / "readme"
    )


def _dvc_state(folder: str, names: list[str]) -> set[str]:
    """.dvc/tmp (queue, locks) and .dvc/cache are not copied."""
    return {"tmp", "cache"} & set(names) if Path(folder).name == ".dvc" else set()


def clone(repo: Path, name: str) -> Path:
    """A copy of the reproduced repository that uses its DVC cache."""
    dest = repo.parent / name
    shutil.copytree(repo, dest, symlinks=True, ignore=_dvc_state)
    run(["dvc", "cache", "dir", "--local", str(repo / ".dvc" / "cache")], dest)
    # A user's scratch file in a folder git does not know: no command may trip on
    # it (`make homework` once handed every untracked file to the queued runs).
    (dest / "scratch").mkdir()
    (dest / "scratch" / "notes.txt").write_text("not part of the pipeline\n")
    return dest


def test_readme_commands_change_only_what_they_should(reproduced):
    repo = clone(reproduced, "readme-order")
    for step, (cmd, may_change) in STEPS.items():
        before = git_status(repo)
        out = run(cmd, repo)
        after = git_status(repo)
        unexpected = outside(paths(before ^ after), may_change)
        assert not unexpected, f"{step} changed {sorted(unexpected)}"
        if step.startswith("exp run"):
            assert " M params.yaml" in after, step
            ran = {ln.split("'")[1] for ln in out.splitlines() if "Running stage" in ln}
            assert ran == RUNS[step], out[-3000:]
        elif step == "metrics diff":
            assert "metrics/cnn.json" in out, out
        elif step == "plots diff":
            assert (repo / "dvc_plots" / "index.html").is_file()
        elif step == "pr comment":
            assert (repo / "comment.md").read_text().strip()
        elif step == "homework":
            assert "cnn-nopool-lr-" in out, out[-2000:]
            record = json.loads((repo / "metrics" / "asr_seeds.json").read_text())
            assert sorted(record) == ["lstm", "transformer"]
            assert all(len(c["metrics"]["cer_per_seed"]) == 2 for c in record.values())
            page = (repo / "reports" / "experiments.md").read_text()
            assert "(seeds 42, 43)" in page and "## The homework's answer" in page
        elif step == "report":
            assert (repo / "reports" / "experiments.md").is_file()

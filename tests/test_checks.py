"""PR-comment warnings: other data at the base, committed dvc.lock not matching code."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import tool_env

from hw2.pipeline.checks import (
    comment_warnings,
    data_sources,
    source_warnings,
    stale_stages,
)


def test_data_sources_reads_both_layouts():
    assert data_sources({"data": {"source": "full"}}) == {
        "images": "full",
        "speech": "full",
    }
    split = {"data": {"images": {"source": "full"}, "speech": {"source": "sample"}}}
    assert data_sources(split) == {"images": "full", "speech": "sample"}
    assert data_sources(None) == {}


def test_source_warnings_name_the_branch_that_differs():
    base = {"data": {"source": "sample"}}
    head = {"data": {"images": {"source": "sample"}, "speech": {"source": "full"}}}
    (line,) = source_warnings(base, head, "main")
    assert line.startswith("The speech metrics compare different data")
    assert "`sample` at `main`, `full` in this branch" in line
    assert source_warnings(base, base, "main") == []


def sh(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commit(repo: Path, message: str) -> str:
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", message], repo)
    return sh(["git", "rev-parse", "HEAD"], repo).strip()


def dvc_status(repo: Path) -> set[str]:
    return set(json.loads(sh(["dvc", "status", "--json"], repo) or "{}"))


@pytest.fixture
def repo(tmp_path) -> Path:
    """A real DVC project of two stages, reproduced and committed."""
    (tmp_path / "make.py").write_text(
        "import sys, yaml\n"
        "p = yaml.safe_load(open('params.yaml'))\n"
        "open(sys.argv[1], 'w').write(str(p['n'] * 2))\n"
    )
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"n": 3, "data": {"source": "sample"}})
    )
    stage = {"cmd": "python make.py out.txt", "deps": ["make.py"], "params": ["n"]}
    copy = {"cmd": "cp out.txt copy.txt", "deps": ["out.txt"], "outs": ["copy.txt"]}
    dag = {"stages": {"make": {**stage, "outs": ["out.txt"]}, "copy": copy}}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(dag))
    sh(["git", "init", "-q"], tmp_path)
    sh(["dvc", "init", "-q"], tmp_path)
    sh(["dvc", "repro", "-q"], tmp_path)
    commit(tmp_path, "repro")
    return tmp_path


@pytest.mark.e2e
def test_stale_stages_agree_with_dvc_status(repo):
    assert stale_stages(repo) == {} and dvc_status(repo) == set()
    clean = sh(["git", "rev-parse", "HEAD"], repo).strip()

    (repo / "make.py").write_text((repo / "make.py").read_text() + "# edited\n")
    commit(repo, "code without repro")
    assert stale_stages(repo) == {"make": "make.py changed"}
    assert "make" in dvc_status(repo)
    assert stale_stages(repo, clean) == {}  # the older commit stays consistent

    sh(["dvc", "repro", "-q"], repo)
    commit(repo, "repro")
    assert stale_stages(repo) == {}

    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump({**params, "n": 4}))
    commit(repo, "param without repro")
    assert stale_stages(repo) == {"make": "param n changed"}

    dag = yaml.safe_load((repo / "dvc.yaml").read_text())
    dag["stages"]["copy"]["cmd"] = "cp out.txt copy.txt && true"
    dag["stages"]["new"] = {"cmd": "echo", "deps": ["make.py"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(dag))
    commit(repo, "stages without repro")
    stale = stale_stages(repo)
    assert stale["copy"] == "cmd changed" and stale["new"] == "never run"


@pytest.mark.e2e
def test_comment_warnings_combine_sources_and_stale_lock(repo):
    base = sh(["git", "rev-parse", "HEAD"], repo).strip()
    assert comment_warnings(repo, base) == []

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"] = {"images": {"source": "full"}, "speech": {"source": "sample"}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    # the workspace (what the comment's numbers come from) already differs
    (line,) = comment_warnings(repo, base)
    assert "images metrics compare different data" in line
    assert comment_warnings(repo, base, workspace=False) == []

    (repo / "make.py").write_text((repo / "make.py").read_text() + "# edited\n")
    commit(repo, "data and code, no repro")
    warnings = comment_warnings(repo, base)
    assert len(warnings) == 2
    assert warnings[1].startswith("The dvc.lock committed in this branch")
    assert "`make`: make.py changed" in warnings[1]


@pytest.mark.e2e
def test_pr_comment_carries_the_warnings(repo):
    from hw2.pipeline.pr_comment import build_comment

    base = sh(["git", "rev-parse", "HEAD"], repo).strip()
    assert "Warning" not in build_comment(base, root=repo)
    (repo / "make.py").write_text((repo / "make.py").read_text() + "# edited\n")
    commit(repo, "code without repro")
    text = build_comment(base, root=repo)
    assert "> **Warning:** The dvc.lock committed in this branch" in text
    assert text.index("Warning") < text.index("### Metrics")

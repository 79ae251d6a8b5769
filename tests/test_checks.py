"""PR-comment warnings: other data at the base, committed dvc.lock not matching code."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import tool_env

from hw2.pipeline.checks import (
    DataChange,
    Diff,
    comment_warnings,
    data_changes,
    data_param_changes,
    stale_stages,
)


def test_any_data_param_counts_not_only_the_source():
    base = {"lr": 0.1, "data": {"images": {"source": "sample", "seed": 0}}}
    head = {
        "lr": 0.2,
        "data": {
            "images": {"source": "sample", "seed": 1},
            "speech": {"sample": {"n_clips": 3000}},
        },
    }
    changes = data_param_changes(base, head)
    assert changes == {
        "images": [Diff("data.images.seed", 0, 1)],
        "speech": [Diff("data.speech.sample.n_clips", None, 3000)],
    }
    # the older shared key feeds both branches
    shared = data_param_changes(
        {"data": {"source": "sample"}}, {"data": {"source": "full"}}
    )
    assert set(shared) == {"images", "speech"}
    split = {"data": {"images": {"source": "sample"}, "speech": {"source": "full"}}}
    assert set(data_param_changes({"data": {"source": "full"}}, split)) == {"images"}
    assert data_param_changes(base, base) == {}


def test_data_warning_lists_params_and_recorded_shape():
    shape = tuple(Diff(f"k{i}", i, i + 1000) for i in range(6))
    change = DataChange(
        "speech", (Diff("data.speech.source", "sample", "full"),), shape
    )
    line = change.warning("main")
    assert line.startswith("The speech data differ between `main` and this branch")
    assert "`data.speech.source` `sample` → `full`" in line
    assert "recorded in `metrics/speech_preprocess.json`: `k0` 0 → 1,000" in line
    assert "`k3` 3 → 1,003 and 2 more" in line and "The ASR metrics" in line


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
def test_comment_warnings_combine_data_and_stale_lock(repo):
    base = sh(["git", "rev-parse", "HEAD"], repo).strip()
    assert comment_warnings(repo, base) == []

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"] = {"images": {"source": "full"}, "speech": {"source": "sample"}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    # the workspace (what the comment's numbers come from) already differs
    (line,) = comment_warnings(repo, base)
    assert "The images data differ" in line and "The CNN metrics" in line
    assert comment_warnings(repo, base, workspace=False) == []

    (repo / "make.py").write_text((repo / "make.py").read_text() + "# edited\n")
    commit(repo, "data and code, no repro")
    warnings = comment_warnings(repo, base)
    assert len(warnings) == 2
    assert warnings[1].startswith("The dvc.lock committed in this branch")
    assert "`make`: make.py changed" in warnings[1]


@pytest.mark.e2e
def test_recorded_data_shape_alone_warns(repo):
    shape = repo / "metrics" / "speech_preprocess.json"
    shape.parent.mkdir()
    shape.write_text(json.dumps({"n_clips": 1400, "audio_hours": 2.52}))
    commit(repo, "shape")
    shape.write_text(json.dumps({"n_clips": 1400, "audio_hours": 1.49}))
    (change,) = data_changes(repo, "HEAD")
    assert change.branch == "speech" and change.params == ()
    assert change.shape == (Diff("audio_hours", 2.52, 1.49),)


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

"""PR-comment warnings: other data at the base, committed dvc.lock not matching code."""

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import Files, tool_env

from hw2.core.provenance import dvc_dir_md5
from hw2.pipeline.checks import data_warnings, stale_stages, why_stale
from hw2.pipeline.dvc import GitRev, Workspace


def diff(**keys):
    """`dvc params diff --json` of params.yaml: key=(old, new)."""
    return {"params.yaml": {k: {"old": o, "new": n} for k, (o, n) in keys.items()}}


def test_any_data_param_counts_not_only_the_source():
    params = diff(**{"lr": (0.1, 0.2), "data.images.seed": (0, 1)})
    params["params.yaml"]["data.speech.sample.n_clips"] = {"old": None, "new": 3000}
    found = data_warnings(params, Files({}), Files({}, rev=None))
    assert "between base and this branch (data.images.seed 0 → 1)." in found["images"]
    assert "(data.speech.sample.n_clips absent → 3,000)." in found["speech"]
    # a key under data but outside data.images / data.speech feeds both
    shared = data_warnings(diff(**{"data.source": ("a", "b")}), Files({}), Files({}))
    assert list(shared) == ["images", "speech"]
    assert data_warnings(diff(lr=(0.1, 0.2)), Files({}), Files({})) == {}


def test_recorded_data_shape_alone_warns():
    path = "metrics/speech_preprocess.json"
    old = Files({path: json.dumps({"n_clips": 1400, "audio_hours": 2.52})})
    new = Files({path: json.dumps({"n_clips": 1400, "audio_hours": 1.49})}, rev=None)
    (line,) = data_warnings({}, old, new).values()
    assert f"this branch (recorded in `{path}`: audio_hours 2.52 → 1.49)." in line


def test_data_warning_lists_params_and_recorded_shape_escaped():
    path = "metrics/speech_preprocess.json"
    old = Files({path: json.dumps({f"k{i}": i for i in range(6)})}, rev="main")
    new = Files({path: json.dumps({f"k{i}": i + 1000 for i in range(6)})}, rev=None)
    params = diff(**{"data.speech.source": ("sample", "full")})
    (line,) = data_warnings(params, old, new).values()
    assert line.startswith("The speech data differ between main and this branch")
    assert "(data.speech.source sample → full; recorded in `" in line
    assert f"`{path}`: k0 0 → 1,000" in line
    assert "k3 3 → 1,003 and 2 more)" in line and "The ASR metrics" in line
    # a quoted value cannot hide the rest of the comment or ping anyone
    url = diff(**{"data.images.url": ("https://a", "https://example.org/a`b<!-- @x")})
    (images,) = data_warnings(url, Files({}), Files({})).values()
    assert "&#96;b&lt;!-- @\u200bx" in images


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
    (tmp_path / "lib").mkdir()  # a folder dependency: DVC hashes it, not git
    (tmp_path / "lib" / "a.py").write_text("A = 1\n")
    deps = ["make.py", "lib"]
    stage = {"cmd": "python make.py out.txt", "deps": deps, "params": ["n"]}
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
def test_pr_comment_carries_the_warnings(repo):
    from hw2.pipeline.pr_comment import build_comment

    base = sh(["git", "rev-parse", "HEAD"], repo).strip()
    assert "Warning" not in build_comment(base, root=repo)
    (repo / "make.py").write_text((repo / "make.py").read_text() + "# edited\n")
    commit(repo, "code without repro")
    text = build_comment(base, root=repo)
    assert "> **Warning:** The dvc.lock committed in this branch" in text
    assert text.index("Warning") < text.index("### Metrics")


def test_one_stale_lock_rule_for_the_workspace_and_a_git_revision(tmp_path):
    """why_stale reads the same answer from disk (the preflight) and from git
    (the PR comment's warning): a code folder hashed as DVC hashes it."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text("A = 1\n")
    (tmp_path / "make.py").write_text("print(1)\n")
    stage = {"cmd": "python make.py", "deps": ["make.py", "lib"], "params": ["n"]}
    locked = {
        "cmd": "python make.py",
        "deps": [
            {"path": "make.py", "md5": hashlib.md5(b"print(1)\n").hexdigest()},
            {"path": "lib", "md5": dvc_dir_md5([("a.py", b"A = 1\n")])},
        ],
        "params": {"params.yaml": {"n": 3}},
    }
    sh(["git", "init", "-q"], tmp_path)

    def whys(params=None, cmd="python make.py"):
        sh(["git", "add", "-A"], tmp_path)
        sh(["git", "commit", "-qm", "step", "--allow-empty"], tmp_path)
        args = ({**stage, "cmd": cmd}, locked, params or {"n": 3})
        return {
            why_stale(*args, files, set())
            for files in (Workspace(tmp_path), GitRev(tmp_path, "HEAD"))
        }

    assert whys() == {""}
    assert whys({"n": 4}) == {"param n changed"}
    assert whys(cmd="python make.py -v") == {"cmd changed"}
    assert why_stale(stage, None, {}, Workspace(tmp_path), set()) == "never run"
    (tmp_path / "lib" / "b.py").write_text("B = 2\n")
    assert whys() == {"lib changed"}
    # a folder among the stages' outputs is data: its maker's deps count instead
    assert why_stale(stage, locked, {"n": 3}, Workspace(tmp_path), {"lib"}) == ""
    (tmp_path / "lib" / "b.py").unlink()
    (tmp_path / "make.py").write_text("print(2)\n")
    assert whys() == {"make.py changed"}

"""PR-comment warnings: other data at the base, committed dvc.lock not matching code."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import Files, tool_env

from hw2.pipeline import preflight
from hw2.pipeline.checks import data_warnings, stale_stages


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


def agree(repo: Path, rev: str = "HEAD") -> dict[str, str]:
    """What stale_stages says of `rev`, checked against the preflight's answer for
    the workspace (HEAD's files) and `dvc status`'s stages."""
    stale = stale_stages(repo, rev)
    if rev == "HEAD":
        lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
        found = preflight.pending(repo, lock).items()  # with the stages after them
        assert {n: w for n, w in found if not w.startswith("after ")} == stale
        assert set(stale) <= dvc_status(repo)
    return stale


@pytest.mark.e2e
def test_stale_stages_agree_with_dvc_status(repo):
    assert agree(repo) == {} and dvc_status(repo) == set()
    clean = sh(["git", "rev-parse", "HEAD"], repo).strip()

    (repo / "make.py").write_text((repo / "make.py").read_text() + "# edited\n")
    commit(repo, "code without repro")
    assert agree(repo) == {"make": "make.py modified"}
    assert agree(repo, clean) == {}  # the older commit stays consistent

    sh(["dvc", "repro", "-q"], repo)
    commit(repo, "repro")
    assert agree(repo) == {}

    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump({**params, "n": 4}))
    commit(repo, "param without repro")
    assert agree(repo) == {"make": "param n modified"}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))

    (repo / "lib" / "b.py").write_text("B = 2\n")  # a folder, hashed by DVC
    commit(repo, "a code folder without repro")
    assert agree(repo) == {"make": "lib modified"}

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

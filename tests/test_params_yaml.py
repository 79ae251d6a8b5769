"""params.yaml is written the way DVC writes it back, so `-S` changes one line.

`dvc exp run -S key=value` loads params.yaml with ruamel's round-trip loader, sets
the value and dumps the whole file again: comments survive, but every list is
written back one item a line. A flow list (`[1, 2]`) would come back rewritten,
so a one-value experiment would show as a many-line diff of params.yaml.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import tool_env

ROOT = Path(__file__).resolve().parents[1]
# A stage that reads the params below and does nothing: `dvc exp run` then costs a
# second, and what changes in params.yaml is DVC's own doing.
NOOP = {
    "stages": {
        "noop": {
            "cmd": "true",
            "params": ["lr", "decoder", "asr.epochs.sample", "attention.lengths"],
        }
    }
}


def run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(NOOP))
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    run(["git", "add", "-A"], tmp_path)
    run(["git", "commit", "-qm", "params"], tmp_path)
    return tmp_path


def changed_lines(repo: Path) -> list[str]:
    diff = run(["git", "diff", "-U0", "params.yaml"], repo).splitlines()
    return [line for line in diff if line[:1] in "+-" and line[:3] not in "+++---"]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("override", "old", "new"),
    [
        ("lr=0.05", "lr: 0.01 ", "lr: 0.05 "),
        ("decoder=lstm", "decoder: transformer ", "decoder: lstm "),
        ("asr.epochs.sample=3", "    sample: 10", "    sample: 3"),
        ("attention.threads=2", "  threads: 1", "  threads: 2"),
    ],
)
def test_dvc_set_param_rewrites_only_the_value(repo, override, old, new):
    run(["dvc", "exp", "run", "-S", override], repo)
    minus, plus = changed_lines(repo)
    assert minus.startswith(f"-{old}") and plus.startswith(f"+{new}")
    # a comment on the line is kept, in its column
    assert minus.find("#") == plus.find("#")
    assert minus.partition("#")[2] == plus.partition("#")[2]


@pytest.mark.e2e
def test_a_list_set_by_dvc_changes_only_its_items(repo):
    run(["dvc", "exp", "run", "-S", "attention.lengths=[256,512]"], repo)
    removed = [line for line in changed_lines(repo) if line.startswith("-")]
    assert changed_lines(repo) == removed  # nothing added or reformatted
    assert removed == [f"-  - {n}" for n in (1024, 2048, 4096, 8192, 16384)]


def test_params_yaml_has_no_flow_collections():
    # What DVC would rewrite on any `-S`: every list is replaced as a whole.
    for number, line in enumerate((ROOT / "params.yaml").read_text().splitlines()):
        code = line.split("#", 1)[0]
        assert "[" not in code and "{" not in code, f"params.yaml:{number + 1}: {line}"

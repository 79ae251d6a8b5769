"""End to end: the real dvc.yaml on a copy of the project with tiny sizes.

A copy of the session's reproduced tiny project (tests/conftest.py) must be up to
date with every metric written; a learning-rate change must leave the data stages
cached, `dvc exp run -S lr=...` must rerun only the CNN branch, and `dvc metrics
diff` must compare the workspace with HEAD.
"""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import copy_reproduced, tool_env, with_params

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, (
        f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_reproduced) -> Path:
    """A git + DVC copy of the project (tracked and new files), tiny, reproduced."""
    return copy_reproduced(
        tiny_reproduced.root, tmp_path_factory.mktemp("e2e") / "project"
    )


def status(project: Path) -> dict:
    return json.loads(run(["dvc", "status", "--json"], project) or "{}")


def test_repro_writes_every_metric(project):
    assert status(project) == {}
    cnn = json.loads((project / "metrics" / "cnn.json").read_text())
    details = json.loads((project / "metrics" / "cnn_details.json").read_text())
    assert details["n_params"] == 224_892 and 0 <= cnn["test_acc"] <= 1
    for name in ("asr.json", "attention.json", "speech_preprocess.json"):
        assert (project / "metrics" / name).is_file(), name
    assert (project / "reports" / "results.md").is_file()
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project))
    files = shown[""]["data"]  # the workspace's metrics files, as DVC reads them
    assert files["metrics/cnn.json"]["data"]["test_acc"] == cnn["test_acc"]
    assert {"metrics/asr.json", "metrics/attention.json"} <= set(files)


def stages_changed_by(project: Path, key: str, value) -> set[str]:
    """The stages `dvc status` lists after setting a (dotted) param, then undone;
    preflight (which tracks all of params.yaml) is always one: checked apart."""
    params_file = project / "params.yaml"
    original = params_file.read_text()
    params = with_params(yaml.safe_load(original), **{key: value})
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        changed = set(status(project))
    finally:
        params_file.write_text(original)
    assert "preflight" in changed
    return changed - {"preflight"}


def test_lr_change_touches_only_the_cnn_branch(project):
    # evaluate_cnn follows through its deps; the report shows lr in its tables
    assert stages_changed_by(project, "lr", 0.001) == {"train_cnn", "report"}


def test_decoder_change_touches_only_asr_training(project):
    assert stages_changed_by(project, "decoder", "lstm") == {"train_asr", "report"}


@pytest.mark.parametrize(
    ("key", "value", "stages"),
    [
        ("asr.attention", "mclaurin", {"train_asr", "report"}),
        ("asr.cross_attention", "mclaurin", {"train_asr", "report"}),
        ("asr.attention_form", "linear", {"train_asr"}),
        ("attention.terms", 5, {"bench_attention"}),
    ],
)
def test_attention_params_touch_only_their_stages(project, key, value, stages):
    assert stages_changed_by(project, key, value) == stages


@pytest.mark.parametrize(
    ("key", "stages"),
    [
        ("data.images.source", {"download_images", "report"}),
        ("data.speech.source", {"download_speech", "train_asr", "report"}),
    ],
)
def test_each_data_branch_switches_alone(project, key, stages):
    # train_asr reads the source for its per-source epochs and batch size
    assert stages_changed_by(project, key, "full") == stages


def test_exp_run_and_metrics_diff(project):
    out = run(["dvc", "exp", "run", "-S", "lr=0.001"], project)
    assert "Stage 'download_images' didn't change, skipping" in out
    assert "Running stage 'train_cnn'" in out
    assert "Running stage 'train_asr'" not in out
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], project))
    assert "metrics/cnn.json" in diff
    md = run(["dvc", "metrics", "diff", "--md", "--all"], project)
    assert "| Path" in md and "test_acc" in md
    shown = run(["dvc", "exp", "show", "--no-pager", "--csv"], project)
    assert "0.001" in shown

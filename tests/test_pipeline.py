"""End to end: the real dvc.yaml on a copy of the project with tiny sizes.

A copy of the session's reproduced tiny project (tests/conftest.py) must be up to
date with every metric written, as `dvc metrics show` reads them. (Which stages a
param or code change reruns: test_dag.py, from dvc.yaml; `-S lr` and `-S decoder`
through dvc: test_walkthrough.py.)
"""

import json
from pathlib import Path

import pytest
from helpers import copy_reproduced, sh

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_reproduced) -> Path:
    """A git + DVC copy of the project (tracked and new files), tiny, reproduced."""
    return copy_reproduced(
        tiny_reproduced.root, tmp_path_factory.mktemp("e2e") / "project"
    )


def status(project: Path) -> dict:
    return json.loads(sh(["dvc", "status", "--json"], project).stdout or "{}")


def test_repro_writes_every_metric(project):
    assert status(project) == {}
    cnn = json.loads((project / "metrics" / "cnn.json").read_text())
    details = json.loads((project / "metrics" / "cnn_details.json").read_text())
    assert details["n_params"] == 224_892 and 0 <= cnn["test_acc"] <= 1
    for name in ("asr.json", "attention.json", "speech_preprocess.json"):
        assert (project / "metrics" / name).is_file(), name
    assert (project / "reports" / "results.md").is_file()
    shown = json.loads(sh(["dvc", "metrics", "show", "--json"], project).stdout)
    files = shown[""]["data"]  # the workspace's metrics files, as DVC reads them
    assert files["metrics/cnn.json"]["data"]["test_acc"] == cnn["test_acc"]
    assert {"metrics/asr.json", "metrics/attention.json"} <= set(files)

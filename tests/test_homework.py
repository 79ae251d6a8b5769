import subprocess

import pytest

from hw2.core.errors import Hw2Error
from hw2.pipeline.homework import (
    best_learning_rate,
    phase_one,
    phase_two,
    queue_command,
    table_command,
    untracked_files,
    worker_env,
)
from hw2.pipeline.runs import CNN_JSON, Run


def test_phase_one_is_the_homework_grid():
    grid = {e.name: e.params for e in phase_one("sample")}
    assert [grid[f"cnn-lr-{lr}"]["lr"] for lr in (0.1, 0.01, 0.001)] == [
        "0.1",
        "0.01",
        "0.001",
    ]
    assert grid["asr-lstm"]["decoder"] == "lstm"
    assert grid["asr-transformer"]["decoder"] == "transformer"
    assert grid["asr-mclaurin"]["asr.attention"] == "mclaurin"
    # each experiment sets the source of the branch it runs, and only that one
    for name, p in grid.items():
        key = "data.images.source" if name.startswith("cnn") else "data.speech.source"
        assert p[key] == "sample" and {k for k in p if k.startswith("data.")} == {key}
    assert all("full" in p.values() for p in (e.params for e in phase_one("full")))
    assert "asr-mclaurin" not in {e.name for e in phase_one("sample", mclaurin=False)}


def run(name, lr, val_acc):
    return Run(name, {"lr": lr}, {CNN_JSON: {"val_acc": val_acc}})


def test_best_learning_rate_by_validation_accuracy():
    runs = [
        run("workspace", 0.01, 0.99),  # not part of the grid: ignored
        run("cnn-lr-0.1", 0.1, 0.70),
        run("cnn-lr-0.01", 0.01, 0.81),
        run("cnn-lr-0.001", 0.001, 0.76),
    ]
    assert best_learning_rate(runs) == 0.01
    [nopool] = phase_two("sample", 0.01)
    assert nopool.params == {
        "data.images.source": "sample",
        "lr": "0.01",
        "cnn.maxpool": "false",
    }


def test_no_finished_cnn_run_is_an_error():
    with pytest.raises(Hw2Error, match="no CNN learning-rate experiment finished"):
        best_learning_rate([Run("cnn-lr-0.1", {"lr": 0.1}, {})])


def test_queue_command_sets_params_and_copies_untracked_files():
    [exp] = phase_two("sample", 0.1)
    cmd = queue_command(exp, ["src/hw2/new.py"])
    assert cmd[:6] == ["dvc", "exp", "run", "--queue", "--name", "cnn-nopool-lr-0.1"]
    assert "--set-param" in cmd and "cnn.maxpool=false" in cmd
    assert cmd[-2:] == ["--copy-paths", "src/hw2/new.py"]


def test_untracked_files_lists_new_files_only(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("ignored.txt\n")
    (tmp_path / "ignored.txt").write_text("x")
    (tmp_path / "new.py").write_text("x")
    assert sorted(untracked_files(tmp_path)) == [".gitignore", "new.py"]


def test_table_keeps_the_compared_columns():
    cmd = table_command()
    keep = cmd[cmd.index("--keep") + 1]
    assert keep.startswith(r"^(params\.yaml:)?(Experiment|lr|decoder|cnn\.maxpool")
    assert "test_acc" in keep and "cer" in keep


def test_each_queue_worker_gets_its_share_of_the_cpus(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert worker_env(2, cpus=2)["OMP_NUM_THREADS"] == "1"
    assert worker_env(2, cpus=16)["OMP_NUM_THREADS"] == "8"
    assert worker_env(4, cpus=2)["OMP_NUM_THREADS"] == "1"  # never 0
    assert worker_env(1)["DVC_NO_ANALYTICS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice stays
    assert worker_env(2, cpus=16)["OMP_NUM_THREADS"] == "3"

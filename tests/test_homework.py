import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hw2.core.errors import Hw2Error
from hw2.pipeline.homework import (
    Experiment,
    _run_queue,
    best_learning_rate,
    copy_failure,
    copy_paths,
    phase_one,
    phase_two,
    queue_command,
    run_all,
    select_copy_paths,
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


def test_untracked_files_lists_new_files_and_new_folders(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("ignored.txt\n")
    (tmp_path / "ignored.txt").write_text("x")
    (tmp_path / "new.py").write_text("x")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a b.py").write_text("x")
    (tmp_path / "empty").mkdir()  # nothing in it to hand over
    assert sorted(untracked_files(tmp_path)) == [".gitignore", "new.py", "pkg/"]


def test_only_untracked_pipeline_inputs_are_copied(tmp_path):
    deps = {tmp_path / "src", tmp_path / "stages/train.py", tmp_path / "data/x.npz"}
    outs = {tmp_path / "data/x.npz", tmp_path / "metrics"}
    untracked = [
        "src/hw2/new.py",  # inside a dependency folder
        "stages/train.py",  # a dependency itself
        "stages/",  # a new folder holding a dependency
        "dvc_plots/",  # what `dvc plots diff` leaves behind
        "comment.md",
        "metrics/cnn.json",  # an output: DVC makes or checks it out
        "srcfoo.py",  # a name that merely starts like a dependency
    ]
    assert select_copy_paths(untracked, tmp_path, deps, outs) == [
        "src/hw2/new.py",
        "stages/train.py",
        "stages",
    ]


def test_copy_failure_names_the_file_in_one_line(tmp_path):
    log = (
        "Reproducing experiment 'cnn-lr-0.1'\n"
        f"ERROR: Unable to copy '{tmp_path}/junk/j.txt' to "
        f"'{tmp_path}/.dvc/tmp/exps/tmpab/junk/j.txt'.: [Errno 2] No such file\n"
    )
    message = copy_failure(log, tmp_path)
    assert message is not None and "\n" not in message
    assert message.startswith("a queued run could not copy junk/j.txt ")
    assert copy_failure("Reproducing experiment 'x'\nRan it\n", tmp_path) is None


def git_dvc_repo(root):
    """A one-stage DVC project reading a folder and a param, committed."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def sh(*cmd):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True, env=env)

    (root / "src").mkdir()
    (root / "src" / "a.txt").write_text("a\n")
    (root / "params.yaml").write_text("x: 1\n")
    (root / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: cat src/*.txt params.yaml > out.txt\n"
        "    deps: [src]\n    params: [x]\n"
        "    outs: [{out.txt: {cache: false}}]\n"
    )
    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "init")


@pytest.mark.e2e
def test_queued_runs_get_new_inputs_and_their_params_only(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    git_dvc_repo(tmp_path)
    (tmp_path / "src" / "new.txt").write_text("new\n")  # untracked input
    (tmp_path / "dvc_plots" / "static").mkdir(parents=True)  # untracked strays
    (tmp_path / "dvc_plots" / "static" / "a.png").write_text("x")
    (tmp_path / "comment.md").write_text("x")
    assert copy_paths(tmp_path) == ["src/new.txt"]
    _run_queue(tmp_path, [Experiment("two", {"x": "2"})], jobs=1)
    ref = subprocess.run(
        ["dvc", "exp", "list", "--sha-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(ref) == 1, ref
    out = subprocess.run(
        ["git", "show", f"{ref[0]}:out.txt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # the new input was there, and the run's param was not undone by a copy
    assert out == "a\nnew\nx: 2\n"


def test_a_file_that_cannot_be_copied_is_named(tmp_path, monkeypatch):
    calls = []
    module = "hw2.pipeline.homework"
    monkeypatch.setattr(
        "hw2.pipeline.dvc.run", lambda cmd, root, **kw: calls.append(cmd) or ""
    )
    monkeypatch.setattr(f"{module}.copy_paths", lambda root: ["src/new.txt"])
    log = f"ERROR: Unable to copy '{tmp_path}/src/new.txt' to '/x/src/new.txt'.\n"
    monkeypatch.setattr(f"{module}.run_all", lambda root, jobs: log)
    with pytest.raises(Hw2Error, match=r"^a queued run could not copy src/new\.txt "):
        _run_queue(tmp_path, [Experiment("one", {"x": "3"})], jobs=1)
    assert calls[-1][-2:] == ["--copy-paths", "src/new.txt"]


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


def test_run_all_returns_when_dvc_does_though_a_forked_helper_lingers(
    tmp_path, monkeypatch, capsys
):
    # DVC's `exp run --run-all` leaves a forked helper holding its output open,
    # whose queue worker now and then never exits: the command's own exit counts.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    helper = tmp_path / "helper.pid"
    fake = bin_dir / "dvc"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {calls}\n'
        'if [ "$1" = exp ]; then\n'
        "  echo 'Running experiment cnn-lr-0.1'\n"
        # the lingering helper, our output still open in it: the test kills it
        # (a run_all that waited for it would come back without it, 5 min later)
        f"  sleep 300 & echo $! > {helper}\n"
        "  echo 'done'\n"
        "fi\n"
    )
    fake.chmod(0o755)
    # dvc_env puts the interpreter's folder first on PATH: there, the fake dvc
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    try:
        out = run_all(tmp_path, jobs=2, poll=0.05)
        # run_all is back while the helper still holds the output open
        assert Path(f"/proc/{int(helper.read_text())}/fd/1").is_symlink()
    finally:
        if helper.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(helper.read_text()), signal.SIGKILL)
    assert out == "Running experiment cnn-lr-0.1\ndone\n"
    assert "Running experiment cnn-lr-0.1" in capsys.readouterr().out
    assert calls.read_text().splitlines() == [
        "exp run --run-all --jobs 2",
        "queue stop",
    ]

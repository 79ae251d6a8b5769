import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import asr_seed_runs
import pytest
import yaml

from hw2.core.errors import Hw2Error
from hw2.pipeline import dvc
from hw2.pipeline.experiments import CONFIGURATIONS as ASR_CONFIGS
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
    run_homework,
    select_copy_paths,
    table_command,
    untracked_files,
    worker_env,
)
from hw2.pipeline.runs import CNN_JSON, Run
from hw2.pipeline.seed_record import fingerprint, match


def test_phase_one_is_the_homework_grid():
    grid = {e.name: e.params for e in phase_one("sample")}
    assert [grid[f"cnn-lr-{lr}"]["lr"] for lr in (0.1, 0.01, 0.001)] == [
        "0.1",
        "0.01",
        "0.001",
    ]
    for seed in ("42", "43", "44"):
        assert grid[f"asr-lstm-seed-{seed}"]["decoder"] == "lstm"
        assert grid[f"asr-transformer-seed-{seed}"]["decoder"] == "transformer"
        assert grid[f"asr-mclaurin-seed-{seed}"]["asr.attention"] == "mclaurin"
        assert grid[f"asr-lstm-seed-{seed}"]["asr.seed"] == seed
    # each experiment sets the source of the branch it runs, and only that one
    for name, p in grid.items():
        key = "data.images.source" if name.startswith("cnn") else "data.speech.source"
        assert p[key] == "sample" and {k for k in p if k.startswith("data.")} == {key}
    assert all("full" in p.values() for p in (e.params for e in phase_one("full")))
    no_mclaurin = {e.name for e in phase_one("sample", mclaurin=False)}
    assert not any("mclaurin" in name for name in no_mclaurin)
    assert len(no_mclaurin) == 6 + 3


def test_the_long_asr_runs_are_queued_first_seed_by_seed():
    names = [e.name for e in phase_one("sample", seeds=range(7, 10))]
    assert names == [
        *(f"asr-{c}-seed-{s}" for s in (7, 8, 9) for c in ASR_CONFIGS),
        "cnn-lr-0.1",
        "cnn-lr-0.01",
        "cnn-lr-0.001",
    ]
    one = [e for e in phase_one("sample", seeds=[42]) if "asr.seed" in e.params]
    assert [e.name for e in one] == [f"asr-{c}-seed-42" for c in ASR_CONFIGS]


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


def fake_homework(repo, monkeypatch, runs):
    """run_homework's dvc calls faked (git still runs): what each phase queued."""
    queued, calls = [], []
    module = "hw2.pipeline.homework"
    real = dvc.run

    def run(cmd, root, **kw):
        if cmd[0] == "git":  # the runs' commits are read for real
            return real(cmd, root, **kw)
        calls.append(cmd)
        return "| the table |" if cmd[:3] == ["dvc", "exp", "show"] else ""

    monkeypatch.setattr("hw2.pipeline.dvc.run", run)
    monkeypatch.setattr(
        f"{module}._run_queue", lambda root, grid, jobs: queued.append(grid)
    )
    monkeypatch.setattr(f"{module}.experiment_runs", lambda root: (runs, None))
    return queued, calls


def cnn_runs():
    return [run(f"cnn-lr-{lr}", lr, acc) for lr, acc in ((0.1, 0.7), (0.01, 0.8))]


def test_homework_records_the_asr_seeds_and_writes_the_report(tmp_path, monkeypatch):
    repo = asr_seed_runs.init(tmp_path / "repo")
    runs = asr_seed_runs.homework_runs(repo) + cnn_runs()
    queued, calls = fake_homework(repo, monkeypatch, runs)
    assert run_homework(repo, jobs=2, seeds=3) == "| the table |"
    assert calls[0] == ["dvc", "repro"]
    first, second = ([e.name for e in grid] for grid in queued)
    assert first[:3] == [
        "asr-transformer-seed-42",
        "asr-lstm-seed-42",
        "asr-mclaurin-seed-42",
    ]
    assert len(first) == 9 + 3 and second == ["cnn-nopool-lr-0.01"]
    record = json.loads((repo / "metrics/asr_seeds.json").read_text())
    assert list(record) == ["transformer", "lstm", "mclaurin"]
    lstm = record["lstm"]
    assert lstm["seeds"] == [42, 43, 44] and lstm["made_by"] == "make homework"
    assert lstm["experiments"] == [f"asr-lstm-seed-{s}" for s in (42, 43, 44)]
    assert lstm["fingerprint"] == fingerprint(asr_seed_runs.lock("lstm"))
    assert {"cer", "cer_std", "cer_per_seed", "cer_ci95", "seeds"} <= set(
        lstm["metrics"]
    )
    # the record describes the one-seed default run (transformer, seed 42)
    assert match([record], asr_seed_runs.lock("transformer", 42)).name == "transformer"
    assert match([record], asr_seed_runs.lock("transformer", 42, code="c1")).stale
    page = (repo / "reports/experiments.md").read_text()
    assert "| asr-lstm (seeds 42, 43, 44) |" in page


def test_one_seed_and_no_mclaurin(tmp_path, monkeypatch):
    repo = asr_seed_runs.init(tmp_path / "repo")
    (repo / "params.yaml").write_text(yaml.safe_dump({"asr": {"seed": 7}}))
    configs = ("transformer", "lstm")
    runs = asr_seed_runs.homework_runs(repo, configs, seeds=(7,)) + cnn_runs()
    queued, _ = fake_homework(repo, monkeypatch, runs)
    run_homework(repo, seeds=1, mclaurin=False)
    assert [e.name for e in queued[0]][:2] == [
        "asr-transformer-seed-7",
        "asr-lstm-seed-7",
    ]
    assert len(queued[0]) == 2 + 3
    record = json.loads((repo / "metrics/asr_seeds.json").read_text())
    assert record["lstm"]["seeds"] == [7] and "cer_std" not in record["lstm"]["metrics"]
    with pytest.raises(Hw2Error, match="seeds must be >= 1, got 0"):
        run_homework(repo, seeds=0)


def test_the_asr_record_survives_a_failed_cnn_grid(tmp_path, monkeypatch):
    repo = asr_seed_runs.init(tmp_path / "repo")
    fake_homework(repo, monkeypatch, asr_seed_runs.homework_runs(repo))
    with pytest.raises(Hw2Error, match="no CNN learning-rate experiment finished"):
        run_homework(repo)
    assert (repo / "metrics/asr_seeds.json").is_file()
    assert (repo / "reports/experiments.md").is_file()


def test_make_passes_the_seeds_through():
    root = Path(__file__).resolve().parents[1]
    cmd = ["make", "-n", "-C", str(root), "homework", f"VENV={sys.prefix}"]
    default = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "scripts/homework.py --jobs 2 --source sample --seeds 3" in default
    one = subprocess.run([*cmd, "SEEDS=1"], capture_output=True, text=True).stdout
    assert "--seeds 1" in one

"""make homework: the grid as `dvc exp run --queue` lines and `dvc exp run
--run-all`, resumed without redoing finished runs, stopped by Ctrl-C; the seed
record."""

import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import asr_seed_runs
import pandas as pd
import psutil
import pytest
from helpers import (
    copy_reproduced,
    default_signals,
    git_dvc_repo,
    squeezed,
    tool_env,
)

from hw2.core.errors import Hw2Error
from hw2.pipeline import homework
from hw2.pipeline.catalog import CNN_JSON
from hw2.pipeline.experiments import CONFIGURATIONS as ASR_CONFIGS
from hw2.pipeline.experiments import build_experiments_report
from hw2.pipeline.exps import table
from hw2.pipeline.homework import (
    best_learning_rate,
    phase_one,
    phase_two,
    run_homework,
    run_queue,
)
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


def cnn(name, lr, val_acc, state="success"):
    row = {"name": name, "rev": "workspace", "typ": "branch_commit", "state": state}
    row |= {"lr": lr, "cnn.maxpool": True, "data.images.source": "sample"}
    return row | {f"{CNN_JSON}:val_acc": val_acc}


def test_best_learning_rate_by_validation_accuracy():
    runs = pd.DataFrame(
        [
            cnn("workspace", 0.01, 0.99),  # not part of the grid: ignored
            cnn("cnn-lr-0.1", 0.1, 0.70),
            cnn("cnn-lr-0.01", 0.01, 0.81),
            cnn("cnn-lr-0.001", 0.001, 0.76),
        ]
    )
    assert best_learning_rate(runs) == 0.01
    [nopool] = phase_two("sample", 0.01)
    assert nopool.params == {
        "data.images.source": "sample",
        "lr": "0.01",
        "cnn.maxpool": "false",
    }
    with pytest.raises(Hw2Error, match="no CNN learning-rate experiment finished"):
        best_learning_rate(pd.DataFrame([cnn("cnn-lr-0.1", 0.1, None, "failed")]))


def cnn_runs():
    return [cnn(f"cnn-lr-{lr}", lr, acc) for lr, acc in ((0.1, 0.7), (0.01, 0.8))]


def fake_queue(monkeypatch, before, after, run_all=None):
    """DVC's queue faked: the runs listed before and after `dvc exp run
    --run-all` (which calls `run_all` if given); returns the dvc commands run."""
    calls, state = [], {"runs": before}

    def dvc(root, *args, env=None):
        calls.append(list(args) + ([env] if env else []))
        if "--run-all" in args:
            state["runs"] = after
            if run_all:
                run_all()

    monkeypatch.setattr(homework, "dvc", dvc)
    monkeypatch.setattr(homework, "exp_frame", lambda root, rev=None: state["runs"])
    waited = lambda root: calls.append(["(the workers have ended)"])  # noqa: E731
    monkeypatch.setattr(homework, "wait_for_workers", waited)
    monkeypatch.setattr(homework, "queued_elsewhere", lambda root: [])
    return calls


def queued(calls):
    return [c[4] for c in calls if c[:3] == ["exp", "run", "--queue"]]


def test_homework_records_the_asr_seeds_and_writes_the_report(tmp_path, monkeypatch):
    repo = asr_seed_runs.init(tmp_path / "repo")
    runs = asr_seed_runs.homework_runs(repo)
    runs = pd.concat([runs.assign(threads=1), pd.DataFrame(cnn_runs())])
    calls = fake_queue(monkeypatch, runs.iloc[:1], runs.reset_index(drop=True))
    assert run_homework(repo, jobs=2, seeds=3).startswith("  run ")
    names = queued(calls)
    assert calls[0] == ["repro"]  # the grid starts from the baseline's outputs
    assert names[:3] == [
        "asr-transformer-seed-42",
        "asr-lstm-seed-42",
        "asr-mclaurin-seed-42",
    ]  # noqa: E501
    # phase 2 queues the nopool run, and again the run that did not finish
    assert len(names) == 9 + 3 + 2 and names[-2:] == [
        "cnn-lr-0.001",
        "cnn-nopool-lr-0.01",
    ]
    start = next(c for c in calls if "--run-all" in c)
    assert start[:5] == ["exp", "run", "--run-all", "-j", "2"]
    assert "OMP_NUM_THREADS" in start[5]
    # the workers stopped, then the finished runs' queue entries gone: DVC's State
    # and Executor columns would push CER out of `dvc exp show --only-changed`
    # no `dvc queue stop`: sent to an ended worker it would end the next one early
    assert calls[-2:] == [
        ["(the workers have ended)"],
        ["queue", "remove", "--success"],
    ]
    assert ["queue", "stop"] not in calls
    record = json.loads((repo / "metrics/asr_seeds.json").read_text())
    assert list(record) == ["transformer", "lstm", "mclaurin"]
    lstm = record["lstm"]
    assert lstm["seeds"] == [42, 43, 44] and lstm["threads"] == [1, 1, 1]
    assert lstm["experiments"] == [f"asr-lstm-seed-{s}" for s in (42, 43, 44)]
    assert lstm["fingerprint"] == fingerprint(asr_seed_runs.lock("lstm"))
    assert {"cer", "cer_std", "cer_per_seed", "cer_ci95"} <= set(lstm["metrics"])
    # the record describes the one-seed default run (transformer, seed 42)
    assert match([record], asr_seed_runs.lock("transformer", 42)).name == "transformer"
    assert match([record], asr_seed_runs.lock("transformer", 42, code="c1")).stale
    page = squeezed((repo / "reports/experiments.md").read_text())
    assert "| asr-lstm (seeds 42, 43, 44) |" in page


def test_the_thread_count_is_noise_like_the_seed():
    one, four = asr_seed_runs.lock("lstm"), asr_seed_runs.lock("lstm", seed=43)
    four = copy.deepcopy(four)
    four["stages"]["train_asr"]["params"]["params.yaml"]["threads"] = 4
    assert fingerprint(one) == fingerprint(four)


def test_each_queued_asr_run_gets_its_share_of_the_cores(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text("threads: 0\nlr: 0.1\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train_cnn: {cmd: c, params: [lr, cnn.maxpool]}\n"
        "  train_asr: {cmd: a, params: [decoder, threads, asr.seed]}\n"
    )
    runs = pd.DataFrame(cnn_runs())
    calls = fake_queue(monkeypatch, runs, runs)
    monkeypatch.setattr(homework.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    grid = [e for e in phase_one("sample", seeds=[42]) if e.name != "cnn-lr-0.1"]
    run_queue(tmp_path, grid + phase_two("sample", 0.1), jobs=2)
    by_name = {c[4]: c for c in calls if c[:3] == ["exp", "run", "--queue"]}
    assert by_name["asr-lstm-seed-42"][-1] == "-Sthreads=2"
    # a CNN run keeps the commit's `threads`: a changed one would retrain the ASR
    assert "-Scnn.maxpool=false" in by_name["cnn-nopool-lr-0.1"]
    assert not any("threads" in arg for arg in by_name["cnn-nopool-lr-0.1"])
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")  # no `threads` key: none set
    runs = pd.DataFrame(cnn_runs())
    calls = fake_queue(monkeypatch, runs, runs)
    run_queue(tmp_path, grid, jobs=2)
    assert not any("threads" in arg for c in calls for arg in c)


def test_runs_left_in_the_queue_are_refused_before_anything_is_queued(
    tmp_path, monkeypatch
):
    """A grid killed on another commit leaves its runs queued: `dvc exp run
    --run-all` would run them beside this grid's (seen: 10 of them)."""
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")
    runs = pd.DataFrame(cnn_runs())
    calls = fake_queue(monkeypatch, runs, runs)
    left = [f"asr-lstm-seed-{s}" for s in range(40, 45)]
    monkeypatch.setattr(homework, "queued_elsewhere", lambda root: left)
    with pytest.raises(
        Hw2Error, match=r"holds 5 run\(s\) .*\(asr-lstm-seed-40, .*, …\)"
    ):
        run_queue(tmp_path, phase_two("sample", 0.1), jobs=1)
    assert queued(calls) == [] and not any("--run-all" in c for c in calls)


def test_queueing_leaves_the_workspace_changes_as_they_were(
    tmp_path, monkeypatch, capsys
):
    """Seen in CI: after `dvc exp run -S lr=...` in the workspace, `make homework`
    (each `dvc exp run --queue` stashes the workspace and pops it back) left five
    changed metrics files as HEAD's: they are written back, and nothing else."""
    files = {"params.yaml": "lr: 0.1\n", "cnn.json": '{"acc": 0.25}'}
    repo = git_dvc_repo(tmp_path / "repo", files)
    (repo / "cnn.json").write_text('{"acc": 0.75}')  # as long as HEAD's
    (repo / "params.yaml").write_text("lr: 0.001\n")
    runs = pd.DataFrame(cnn_runs())
    edit = lambda: (repo / "params.yaml").write_text("lr: 0.5\n")  # noqa: E731
    calls = fake_queue(monkeypatch, runs, runs, run_all=edit)  # a user's edit
    faked = homework.dvc

    def reverting(root, *args, env=None):
        faked(root, *args, env=env)
        if args[:3] == ("exp", "run", "--queue"):
            (repo / "cnn.json").write_text('{"acc": 0.25}')

    monkeypatch.setattr(homework, "dvc", reverting)
    run_queue(repo, phase_two("sample", 0.1), jobs=1)
    assert queued(calls) == ["cnn-nopool-lr-0.1"]
    assert (repo / "cnn.json").read_text() == '{"acc": 0.75}'
    assert (repo / "params.yaml").read_text() == "lr: 0.5\n"  # not HEAD's: kept
    out = capsys.readouterr().out
    assert "restored cnn.json: DVC's queue had reset them to HEAD" in out


def test_a_second_run_keeps_the_finished_runs_and_queues_the_rest(
    tmp_path, monkeypatch
):
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")
    grid = phase_one("sample", mclaurin=False, seeds=[42])[2:]  # the CNN's
    before = pd.DataFrame(
        [
            cnn("cnn-lr-0.1", 0.1, 0.7) | {"data.images.source": "sample"},
            cnn("cnn-lr-0.01", 0.01, None, "failed"),  # interrupted
            # the same name, other params (another source): run again
            cnn("cnn-lr-0.001", 0.001, 0.7) | {"data.images.source": "full"},
        ]
    )
    calls = fake_queue(monkeypatch, before, before)
    run_queue(tmp_path, grid, jobs=1)
    assert calls[0] == ["exp", "remove", "cnn-lr-0.01", "cnn-lr-0.001"]
    assert queued(calls) == ["cnn-lr-0.01", "cnn-lr-0.001"]


def test_ctrl_c_stops_the_queue_workers_and_says_how_to_resume(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")
    runs = pd.DataFrame(cnn_runs())

    def interrupted():
        raise KeyboardInterrupt

    calls = fake_queue(monkeypatch, runs, runs, run_all=interrupted)
    with pytest.raises(Hw2Error, match="`make homework` again runs the rest"):
        run_queue(tmp_path, phase_two("sample", 0.1), jobs=1)
    assert calls[-1] == ["queue", "stop", "--kill"]


def test_the_asr_record_survives_a_failed_cnn_grid(tmp_path, monkeypatch):
    repo = asr_seed_runs.init(tmp_path / "repo")
    runs = asr_seed_runs.homework_runs(repo)
    fake_queue(monkeypatch, runs, runs)
    with pytest.raises(Hw2Error, match="no CNN learning-rate experiment finished"):
        run_homework(repo)
    assert (repo / "metrics/asr_seeds.json").is_file()
    assert (repo / "reports/experiments.md").is_file()
    with pytest.raises(Hw2Error, match="seeds must be >= 1, got 2 and 0"):
        run_homework(repo, seeds=0)


def test_make_passes_the_seeds_through():
    root = Path(__file__).resolve().parents[1]
    cmd = ["make", "-n", "-C", str(root), "homework", f"VENV={sys.prefix}"]
    default = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "scripts/homework.py --jobs 2 --source sample --seeds 3" in default
    one = subprocess.run([*cmd, "SEEDS=1"], capture_output=True, text=True).stdout
    assert "--seeds 1" in one


@pytest.mark.e2e
def test_a_failed_queued_run_is_failed_with_no_numbers(tiny_reproduced, tmp_path):
    root = copy_reproduced(tiny_reproduced.root, tmp_path / "project")
    env = tool_env(PYTHONPATH=str(root / "src"), OMP_NUM_THREADS="1")
    for cmd in (["exp", "run", "--queue", "-n", "bad", "-S", "lr=-1"],
                ["exp", "run", "--run-all", "-j", "1"], ["queue", "stop"]):  # fmt: skip
        subprocess.run(["dvc", *cmd], cwd=root, env=env, check=True)
    runs = homework.exp_frame(root)
    assert runs.set_index("name").at["bad", "state"] == "failed"
    page = squeezed(build_experiments_report(root).read_text())
    assert "| bad (failed) | sample | -1 | – | – | – | – | – | – |" in page
    shown = table(homework.exp_frame(root), 120).splitlines()
    (line,) = [ln for ln in shown if "bad" in ln]
    assert line.split()[:6] == ["bad", "(failed)", "–", "–", "–", "-1"]


# lr-b trains for LR_B_EPOCHS epochs: for ever while Ctrl-C is to stop it (a tiny
# run of the usual 2 epochs could end before DVC kills it), 2 when run again
GRID = """\
import os, sys
from pathlib import Path
from hw2.core.errors import Hw2Error
from hw2.pipeline.homework import Experiment, run_queue
b = {"lr": "0.03", "cnn.epochs": os.environ.get("LR_B_EPOCHS", "2")}
grid = [Experiment("lr-a", {"lr": "0.02"}), Experiment("lr-b", b)]
try:
    run_queue(Path("."), grid, jobs=1)
except Hw2Error as exc:
    sys.exit(f"error: {exc}")
"""


@pytest.mark.e2e
def test_ctrl_c_stops_the_worker_and_a_rerun_keeps_what_finished(
    tiny_reproduced, tmp_path
):
    root = copy_reproduced(tiny_reproduced.root, tmp_path / "project")
    env = tool_env(PYTHONPATH=str(root / "src"), OMP_NUM_THREADS="1")
    grid = subprocess.Popen(  # SIGINT at its default: the suite may run as `make &`
        [sys.executable, "-c", GRID],
        cwd=root,
        env={**env, "LR_B_EPOCHS": "10000"},
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
    )

    def finished(runs, name):
        return runs[(runs["name"] == name) & (runs["state"] == "success")]

    # Until lr-a has finished: its experiment ref exists. Asked of git, not of
    # `dvc exp show`, which reads the active runs' copies: in CI it waited forever
    # in pygit2 (a blob reader thread that died as a copy was torn down).
    listing = ["git", "for-each-ref", "--format=%(refname)", "refs/exps"]

    def exp_refs():
        return subprocess.run(listing, cwd=root, capture_output=True, text=True)

    def training_b() -> bool:  # lr-b's train_cnn, in its run's copy of the project
        found = psutil.process_iter(["cmdline", "cwd"])
        return any(
            "stages/train_cnn.py" in " ".join(p.info["cmdline"] or [])
            and str(root) in (p.info["cwd"] or "")
            for p in found
        )

    # Ctrl-C once lr-b trains: a run still being set up has no process DVC could
    # kill, so its worker would finish it (seen in CI: docs/reliability.md)
    while not (
        any(ref.endswith("/lr-a") for ref in exp_refs().stdout.split()) and training_b()
    ):
        assert grid.poll() is None, grid.stderr.read().decode()[-2000:]
        time.sleep(1)
    grid.send_signal(signal.SIGINT)
    _, err = grid.communicate(timeout=120)
    assert grid.returncode != 0
    assert "the queue's workers stopped; `make homework` again runs the rest" in (
        err.decode()
    )
    status = subprocess.run(
        ["dvc", "queue", "status"], cwd=root, env=env, capture_output=True, text=True
    ).stdout
    assert "Worker status: 0 active" in status and "Running" not in status
    (first,) = finished(homework.exp_frame(root), "lr-a")["rev"]
    again = subprocess.run(
        [sys.executable, "-c", GRID], cwd=root, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "1 of 2 runs finished before: kept" in again.stdout
    runs = homework.exp_frame(root)
    assert runs[runs["name"] == "lr-a"]["rev"].tolist() == [first]  # not redone
    assert finished(runs, "lr-b")["lr"].tolist() == [0.03]

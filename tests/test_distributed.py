"""ASR training in two processes (torchrun, gloo on the CPU) against one process.

The stage is run as dvc.yaml runs it, with HW2_NPROC=2: the same global batch,
so the losses and the trained weights must match a single-process run up to
floating-point order; rank 0 alone writes; a run interrupted in one process
resumes in two.
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers import ROOT, sh, stage_argv
from test_asr_training import PARAMS, make_split

from hw2.asr import distributed
from hw2.core.errors import Hw2Error, ParamError
from hw2.core.failpoints import ENV
from hw2.core.params import Params

EPOCHS = 3
# 13 clips at batch 4: batches of 4, 4, 4 and 1, so rank 1 pads the last one
N_TRAIN = 13
FEATURES = dict(zip(*[iter(stage_argv("train_asr"))] * 2, strict=True))["--features"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Features and params.yaml laid out where dvc.yaml's cmd expects them."""
    root = tmp_path_factory.mktemp("ddp")
    features = root / FEATURES
    make_split(features / "train", N_TRAIN, 0)
    make_split(features / "validation", 5, 1)
    params = Params(PARAMS).override({"asr.epochs.sample": EPOCHS}).data
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def run_train(
    project: Path, out: str, nproc: str, **env
) -> subprocess.CompletedProcess:
    """stages/train_asr.py with its outputs under `out`; HW2_NPROC=nproc."""
    argv = [
        "--features",
        FEATURES,
        "--checkpoint",
        f"{out}/checkpoint.pt",
        "--model",
        f"{out}/asr.pt",
        "--live",
        f"{out}/live",
    ]
    env = {"PYTHONPATH": str(ROOT / "src"), "HW2_NPROC": nproc, **env}
    return sh(
        [sys.executable, str(ROOT / "stages" / "train_asr.py"), *argv],
        project,
        ok=False,
        env=env,
    )


def losses(live: Path) -> list[float]:
    rows = (live / "plots" / "metrics" / "train" / "loss.tsv").read_text().split("\n")
    return [float(r.split("\t")[-1]) for r in rows[1:] if r.strip()]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model_state_dict"]


def assert_same_model(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def runs(project) -> dict[str, subprocess.CompletedProcess]:
    return {n: run_train(project, f"out{n}", str(n)) for n in (1, 2)}


@pytest.mark.e2e
def test_two_processes_train_and_write_once(project, runs):
    proc = runs[2]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("parameters saved to") == 1, proc.stdout
    assert proc.stdout.count("epoch 1/3: train/loss") == 1  # rank 0 reports
    live = project / "out2" / "live"
    train_loss = losses(live)
    assert len(train_loss) == EPOCHS  # one row per epoch, not one per rank
    assert train_loss[-1] < train_loss[0]
    assert json.loads((live / "metrics.json").read_text())["step"] == EPOCHS - 1
    assert (project / "out2" / "asr.pt").is_file()
    assert not (project / "out2" / "checkpoint.pt").exists()


@pytest.mark.e2e
def test_two_processes_match_one(project, runs):
    assert runs[1].returncode == 0, runs[1].stderr[-3000:]
    one, two = losses(project / "out1" / "live"), losses(project / "out2" / "live")
    assert one == pytest.approx(two, rel=1e-4)
    assert_same_model(project / "out1" / "asr.pt", project / "out2" / "asr.pt")


@pytest.mark.e2e
def test_run_interrupted_in_one_process_resumes_in_two(project, runs):
    out = project / "resumed"
    killed = run_train(project, "resumed", "1", **{ENV: "train_epoch:1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    proc = run_train(project, "resumed", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("resuming after epoch 1") == 1
    assert_same_model(project / "out1" / "asr.pt", out / "asr.pt")
    assert losses(out / "live") == pytest.approx(
        losses(project / "out1" / "live"), rel=1e-4
    )


def test_world_that_does_not_divide_the_batch_is_one_line(project):
    proc = run_train(project, "bad", "3")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: asr.batch_size 4 cannot be shared by 3 processes (it must be a "
        "multiple of the process count; HW2_NPROC or torchrun --nproc_per_node)"
    ]
    assert not (project / "bad").exists()


def test_bad_process_count_is_one_line(project):
    proc = run_train(project, "bad", "two")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: HW2_NPROC must be a whole number of processes, got 'two'"
    ]


def test_more_gpus_than_the_machine_has(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(
        Hw2Error, match="2 training processes need 2 GPUs, this machine has 1"
    ):
        distributed.check_world(8, 2, torch.device("cuda"))
    distributed.check_world(8, 2, torch.device("cpu"))  # gloo: any number


def test_context_reads_torchrun_environment():
    env = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    ctx = distributed.context(env)
    assert (ctx.rank, ctx.world, ctx.local_rank, ctx.local_world) == (1, 4, 1, 2)
    assert ctx.active and not ctx.main
    assert distributed.context({}) == distributed.Context()
    with pytest.raises(ParamError):
        distributed.requested_processes({"HW2_NPROC": "0"})

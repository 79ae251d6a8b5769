"""Fault injection: each speech stage SIGKILLed at a few points, then rerun.

A run killed anywhere must, once rerun, leave exactly what an uninterrupted run
leaves (file for file, model weights and metrics) and no temporary entries. The
kills are real (SIGKILL, no cleanup) and land at known places through
hw2.core.failpoints. Tiny sizes: about a minute on two loaded cores (make test-e2e).
"""

import hashlib
import io
import signal
import tarfile
import threading
from pathlib import Path

import pytest
import torch
import yaml
from conftest import FileServer
from helpers import ROOT, run_stage, with_params, write_params
from test_preprocess import make_corpus

from hw2.core.failpoints import ENV

pytestmark = pytest.mark.e2e

STAGES = ("download_speech", "preprocess_speech", "train_asr", "evaluate_asr")
KILLS = {  # stage -> failpoints, each killed once in this order before a clean run
    "download_speech": ["download:1", "extract:5"],
    "preprocess_speech": ["preprocess:3", "preprocess:9"],
    "train_asr": ["train_step:2", "train_epoch:1", "train_step:5"],
    "evaluate_asr": [],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serves a tiny LJ Speech archive (> 1 download chunk) over loopback HTTP."""
    root = tmp_path_factory.mktemp("served")
    corpus = tmp_path_factory.mktemp("corpus") / "LJSpeech-1.1"
    make_corpus(corpus, n=48, seed=3)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        tar.add(corpus, arcname="LJSpeech-1.1")
    (root / "LJSpeech-1.1.tar.bz2").write_bytes(buffer.getvalue())
    served = FileServer(root)
    served.thread = threading.Thread(target=served.httpd.serve_forever, daemon=True)
    served.thread.start()
    served.sha256 = hashlib.sha256(buffer.getvalue()).hexdigest()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def project(folder: Path, server) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = with_params(
        params,
        **{
            "data.speech.source": "full",
            "data.speech.url": server.url("LJSpeech-1.1.tar.bz2"),
            "data.speech.sha256": server.sha256,
            "device": "cpu",
            "asr.epochs.full": 2,
            "asr.batch_size.full": 8,
            "asr.eval_batch_size": 8,
            "asr.val_decode": 2,
            "asr.model.hidden": 16,
            "asr.model.mlp": 32,
            "asr.model.encoder_layers": 1,
        },
    )
    folder.mkdir()
    write_params(folder, params)
    return folder


def run(stage: str, cwd: Path, failpoint: str | None = None):
    env = {ENV: failpoint} if failpoint else {}
    done = run_stage(stage, cwd, timeout=300, env=env)
    if failpoint:
        assert done.returncode == -signal.SIGKILL, (failpoint, done.stderr[-2000:])
    else:
        assert done.returncode == 0, (stage, done.stderr[-2000:])
    return done


def outputs(folder: Path) -> dict[str, object]:
    """What the stages leave: every file's bytes, asr.pt as its tensors."""
    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if not path.is_file() or rel == "params.yaml":
            continue
        if rel == "data/models/asr.pt":  # torch.save's zip names vary per write
            ckpt = torch.load(path, weights_only=True)
            out[rel] = {k: v.tolist() for k, v in ckpt["model_state_dict"].items()}
        elif rel.startswith("metrics/train_asr/") or rel == "metrics/asr.json":
            out[rel] = path.read_text()
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_killed_stages_rerun_to_the_same_outputs_and_no_leftovers(server, tmp_path):
    whole = project(tmp_path / "whole", server)
    for stage in STAGES:
        run(stage, whole)
    killed = project(tmp_path / "killed", server)
    for stage in STAGES:
        for point in KILLS[stage]:
            run(stage, killed, point)
        if stage == "download_speech":  # the kill hit mid-download, then mid-extract
            assert (killed / "data/downloads/LJSpeech-1.1.tar.bz2").exists()
            assert list((killed / "data/speech").glob(".LJSpeech-1.1.*.extract"))
        if stage == "preprocess_speech":
            assert list((killed / "data").glob(".features.*.tmp"))
        if stage == "train_asr":
            assert (killed / "data/checkpoints/asr.pt").exists()
        run(stage, killed)
    assert outputs(killed) == outputs(whole)
    hidden = [p for p in killed.rglob(".*") if p.name != ".gitignore"]
    assert hidden == [], hidden
    assert not (killed / "data/checkpoints/asr.pt").exists()

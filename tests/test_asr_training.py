"""ASR training: params, schedule, resume after a kill, NaN handling, the stages."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import run_stage, set_param, stage_main

from hw2.asr.features import SpeechSplit, write_split
from hw2.asr.model import ModelDimensions
from hw2.asr.text import encode
from hw2.asr.train import (
    ASRConfig,
    ASREvalConfig,
    NonFiniteLossError,
    evaluate,
    get_lr,
    load_model,
    train,
)
from hw2.core.errors import DataError, ParamError
from hw2.core.params import Params

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "red"]

PARAMS = {
    "decoder": "transformer",
    "device": "cpu",
    "data": {"speech": {"source": "sample"}},
    "asr": {
        "lr": 0.003,
        "max_frames": 2754,
        "epochs": {"sample": 3, "full": 15},
        "batch_size": {"sample": 4, "full": 64},
        "eval_batch_size": 4,
        "label_smoothing": 0.1,
        "warmup": 0.15,
        "val_decode": 3,
        "seed": 42,
        "attention": "softmax",
        "cross_attention": "softmax",
        "attention_form": "auto",
        "model": {"hidden": 16, "heads": 2, "mlp": 32, "encoder_layers": 1},
    },
}


def make_split(path, n, seed, poison=False):
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS, size=rng.integers(1, 4)))
        mel = rng.normal(size=(int(rng.integers(6, 30)), 80)).astype(np.float16)
        if poison and i == 1:
            mel[3, 5] = np.nan
        items.append((f"clip{i:03d}", mel, encode(text)[0]))
    write_split(path, items, n_mels=80)
    return SpeechSplit(path)


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    return {
        "train": make_split(root / "train", 12, 0),
        "validation": make_split(root / "validation", 5, 1),
        "test": make_split(root / "test", 5, 2),
    }


def config(**changes) -> ASRConfig:
    return replace(ASRConfig.from_params(Params(PARAMS)), **changes)


def run(cfg, splits, tmp_path, name, **kwargs):
    return train(
        cfg,
        splits["train"],
        splits["validation"],
        checkpoint_path=tmp_path / name / "ckpt.pt",
        live_dir=tmp_path / name / "live",
        progress=False,
        **kwargs,
    )


def live_files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_config_from_params():
    cfg = ASRConfig.from_params(Params(PARAMS))
    assert cfg.dims == ModelDimensions(n_state=16, n_head=2, n_mlp=32, n_audio_layer=1)
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.device) == (3, 4, 0.003, "cpu")
    full = json.loads(json.dumps(PARAMS))
    full["data"]["speech"]["source"] = "full"
    full["decoder"] = "lstm"
    cfg = ASRConfig.from_params(Params(full))
    assert (cfg.epochs, cfg.batch_size, cfg.dims.decoder) == (15, 64, "lstm")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("decoder", "gru"),
        ("asr.attention", "linear"),
        ("asr.attention_form", "fast"),
        ("asr.cross_attention", "exp"),
        ("asr.model.hidden", 0),
        ("asr.model.heads", -2),
        ("asr.model.hidden", 15),  # not a multiple of the heads
        ("asr.epochs.sample", 0),
        ("asr.lr", 0),
        ("asr.max_frames", 0),
        ("asr.batch_size.sample", 2.5),
        ("asr.warmup", 1.5),
        ("device", "tpu"),
        ("data.speech.source", "web"),
    ],
)
def test_bad_params_name_their_key(key, value):
    data = json.loads(json.dumps(PARAMS))
    set_param(data, key, value)
    with pytest.raises(ParamError, match=key.replace(".", r"\.")):
        ASRConfig.from_params(Params(data))


def test_schedule_warms_up_then_decays():
    lrs = [get_lr(s, base_lr=1.0, total_steps=100, warmup=0.15) for s in range(100)]
    assert lrs[0] == pytest.approx(0.01)
    assert max(lrs) == pytest.approx(1.0) and int(np.argmax(lrs)) == 15
    assert lrs[-1] == pytest.approx(0.01)
    assert all(a < b for a, b in zip(lrs[:15], lrs[1:16], strict=True))
    assert all(a > b for a, b in zip(lrs[15:-1], lrs[16:], strict=True))
    assert get_lr(0, base_lr=1.0, total_steps=10, warmup=0.0) == 1.0


def test_killed_run_resumes_and_ends_like_an_uninterrupted_one(splits, tmp_path):
    cfg = config()
    whole = run(cfg, splits, tmp_path, "whole")

    class Killed(Exception):
        pass

    def kill_after_first(epoch):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        run(cfg, splits, tmp_path, "resumed", on_epoch_end=kill_after_first)
    ckpt = torch.load(tmp_path / "resumed" / "ckpt.pt", weights_only=True)
    assert ckpt["epoch"] == 1
    epochs_run = []
    resumed = run(cfg, splits, tmp_path, "resumed", on_epoch_end=epochs_run.append)
    assert epochs_run == [2, 3]  # the first epoch was not trained again
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    whole_logs = live_files(tmp_path / "whole" / "live")
    assert "plots/metrics/val/similarity.tsv" in whole_logs
    assert whole_logs == live_files(tmp_path / "resumed" / "live")
    summary = json.loads(whole_logs["metrics.json"])
    assert summary["step"] == 2 and set(summary) >= {"train", "val"}


def test_checkpoint_of_other_params_is_ignored(splits, tmp_path, capsys):
    run(config(epochs=1), splits, tmp_path, "a")
    capsys.readouterr()
    epochs_run = []
    run(
        config(epochs=2, lr=0.002),
        splits,
        tmp_path,
        "a",
        on_epoch_end=epochs_run.append,
    )
    assert "ignoring checkpoint" in capsys.readouterr().out
    assert epochs_run == [1, 2]


def test_diverging_loss_stops_with_a_clear_error(splits, tmp_path):
    with pytest.raises(NonFiniteLossError, match="loss became"):
        run(config(lr=1e30, epochs=3), splits, tmp_path, "nan")
    assert not (tmp_path / "nan" / "live" / "metrics.json").exists()


def test_nan_features_name_the_clip(splits, tmp_path):
    bad = make_split(tmp_path / "bad", 6, 0, poison=True)
    with pytest.raises(DataError, match="clip001"):
        train(
            config(),
            bad,
            splits["validation"],
            checkpoint_path=tmp_path / "c.pt",
            live_dir=tmp_path / "live",
            progress=False,
        )


def test_evaluate_reports_every_metric(splits, tmp_path):
    model = run(
        config(epochs=1, dims=replace(config().dims, decoder="lstm")),
        splits,
        tmp_path,
        "e",
    )
    metrics, rows = evaluate(model, splits["test"], ASREvalConfig(4, 0.1, "cpu"), False)
    assert set(metrics) == {
        "loss",
        "jaccard",
        "cosine",
        "damerau_levenshtein",
        "cer",
        "wer",
        "n_params",
        "decoder",
        "attention",
        "cross_attention",
    }
    assert metrics["decoder"] == "lstm" and np.isfinite(metrics["loss"])
    assert [r[0] for r in rows] == splits["test"].ids


def write_project(root: Path, splits, params) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for name, split in splits.items():
        dest = root / "data" / "features" / name
        dest.mkdir(parents=True)
        for f in split.path.iterdir():
            (dest / f.name).write_bytes(f.read_bytes())


def test_stages_train_then_evaluate(splits, tmp_path, monkeypatch):
    params = json.loads(json.dumps(PARAMS))
    params["asr"]["epochs"]["sample"] = 1
    write_project(tmp_path, splits, params)
    monkeypatch.chdir(tmp_path)
    stage_main("train_asr", monkeypatch)()
    stage_main("evaluate_asr", monkeypatch)()
    assert load_model(tmp_path / "data/models/asr.pt").dims.n_state == 16
    # the resume checkpoint is gone once the model is saved
    assert not (tmp_path / "data/checkpoints/asr.pt").exists()
    assert (tmp_path / "metrics/train_asr/plots/metrics/train/loss.tsv").is_file()
    metrics = json.loads((tmp_path / "metrics/asr.json").read_text())
    assert metrics["decoder"] == "transformer" and 0 <= metrics["jaccard"] <= 1
    lines = (tmp_path / "metrics/asr_transcripts.tsv").read_text().splitlines()
    assert lines[0] == "id\treference\thypothesis" and len(lines) == 6
    assert not (tmp_path / "dvc.yaml").exists()  # dvclive must not write one


def test_stage_refuses_bad_params_before_work(splits, tmp_path):
    params = json.loads(json.dumps(PARAMS))
    params["decoder"] = "gru"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))  # no features
    done = run_stage("train_asr", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: params.yaml: decoder must be one of transformer | lstm, got 'gru'"
    ]


def test_mclaurin_model_trains_end_to_end(splits, tmp_path):
    dims = replace(config().dims, attention="mclaurin")
    model = run(config(epochs=3, dims=dims), splits, tmp_path, "mcl")
    assert model.dims.attention == "mclaurin"
    losses = (tmp_path / "mcl/live/plots/metrics/train/loss.tsv").read_text().split()
    values = [float(v) for v in losses[3::2]]  # header "step loss", then pairs
    assert len(values) == 3 and values[-1] < values[0]

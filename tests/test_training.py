from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import run_stage

from hw2.core.errors import ParamError
from hw2.core.params import Params
from hw2.oct.phantoms import make_dataset
from hw2.oct.train import (
    CNNTrainConfig,
    Run,
    TrainingDiverged,
    checkpoint,
    epoch_summary,
    evaluate_cnn,
    load_models,
    train_cnn,
    train_cnn_runs,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data():
    d = make_dataset(640, 80, 80, seed=1)
    return {
        s: (d[f"{s}_images"], d[f"{s}_labels"].ravel().astype(np.int64))
        for s in ("train", "val", "test")
    }


def cfg(**kw):
    base = dict(lr=0.01, maxpool=True, batch_size=8, epochs=2, seed=42, device="cpu")
    return CNNTrainConfig(**{**base, **kw})


def test_same_seed_gives_identical_results(data):
    m1, h1 = train_cnn(cfg(epochs=1), data, progress=False)
    m2, h2 = train_cnn(cfg(epochs=1), data, progress=False)
    assert h1 == h2
    for (k, a), b in zip(
        m1.state_dict().items(), m2.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    _, h3 = train_cnn(cfg(epochs=1, seed=7), data, progress=False)
    assert h3 != h1


def test_training_lowers_the_loss_and_logs_each_epoch(data):
    logged = []
    _, history = train_cnn(
        cfg(epochs=3, lr=0.05),
        data,
        lambda e, loss, acc: logged.append((e, loss, acc)),
        progress=False,
    )
    assert [e for e, _, _ in logged] == [0, 1, 2]
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.01
    assert history[-1]["val_acc"] > 0.3  # above chance (0.25)
    assert all(0.0 <= h["val_acc"] <= 1.0 for h in history)


def test_divergence_is_an_error(data):
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        train_cnn(cfg(lr=1e6, epochs=1), data, progress=False)


def test_checkpoint_round_trip_and_evaluation(tmp_path, data):
    model, history = train_cnn(cfg(maxpool=False, epochs=1), data, progress=False)
    runs = [Run(42, model, history)]
    torch.save(checkpoint(runs, cfg(maxpool=False)), tmp_path / "m.pt")
    [(seed, loaded)] = load_models(tmp_path / "m.pt", torch.device("cpu"))
    assert seed == 42 and loaded.dims.maxpool is False
    metrics, csv = evaluate_cnn([loaded], data, torch.device("cpu"))
    assert "test_acc_std" not in metrics
    assert set(metrics["test_acc_per_class"]) == {"CNV", "DME", "drusen", "normal"}
    rows = csv.strip().splitlines()
    assert rows[0] == "actual,predicted" and len(rows) == 81
    correct = sum(a == p for a, p in (r.split(",") for r in rows[1:]))
    assert metrics["test_acc"] == correct / 80


def test_several_seeds_give_mean_and_spread(data):
    runs = train_cnn_runs(cfg(epochs=1, seeds=2), data, progress=False)
    assert [r.seed for r in runs] == [42, 43]
    [row] = epoch_summary(runs)
    losses = [r.history[0]["train_loss"] for r in runs]
    assert row["train_loss"] == pytest.approx(sum(losses) / 2)
    assert row["train_loss_std"] == pytest.approx(abs(losses[0] - losses[1]) / 2**0.5)
    metrics, csv = evaluate_cnn([r.model for r in runs], data, torch.device("cpu"))
    assert metrics["seeds"] == 2 and len(metrics["test_acc_per_seed"]) == 2
    assert metrics["test_acc"] == pytest.approx(sum(metrics["test_acc_per_seed"]) / 2)
    assert metrics["test_acc_std"] >= 0
    assert len(csv.strip().splitlines()) == 1 + 2 * 80


def test_load_models_refuses_other_files(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(Exception, match="not a CNN checkpoint"):
        load_models(tmp_path / "x.pt", torch.device("cpu"))


def params(**over):
    p = {
        "lr": 0.01,
        "device": "cpu",
        "cnn": {"maxpool": True, "batch_size": 8, "epochs": 15, "seed": 42, "seeds": 1},
    }
    for key, value in over.items():
        *head, last = key.split(".")
        node = p
        for h in head:
            node = node[h]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return Params(p)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("lr", -1, "lr must be a number > 0"),
        ("lr", "fast", "lr must be a number"),
        ("cnn.maxpool", "maybe", "cnn.maxpool must be true or false, got 'maybe'"),
        ("cnn.batch_size", 0, "cnn.batch_size must be an integer >= 1"),
        ("device", "tpu", "device must be one of auto | cpu | cuda"),
        ("cnn.epochs", ..., "missing key 'cnn.epochs'"),
        ("cnn.seeds", 0, "cnn.seeds must be an integer >= 1"),
    ],
)
def test_invalid_params_name_the_key(key, value, message):
    with pytest.raises(ParamError, match=message):
        CNNTrainConfig.from_params(params(**{key: value}))


def test_stage_with_bad_param_exits_with_one_line_before_work(tmp_path):
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["lr"] = -1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    proc = run_stage("train_cnn", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: params.yaml: lr must be a number > 0, <= 10, got -1"
    ]
    assert not (tmp_path / "data").exists() and not (tmp_path / "metrics").exists()

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import run_stage

from hw2.core.errors import DataError, NonFiniteLossError, ParamError
from hw2.core.params import Params
from hw2.images.phantoms import make_dataset
from hw2.oct.checkpoint import load_runs, save_runs
from hw2.oct.evaluate import evaluate_cnn
from hw2.oct.model import CNNDimensions, OCTNet, labels_tensor, to_tensor
from hw2.oct.train import CNNTrainConfig, train_cnn_runs, train_epoch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data():
    d = make_dataset(320, 80, 80, seed=1)
    return {
        s: (d[f"{s}_images"], d[f"{s}_labels"].ravel().astype(np.int64))
        for s in ("train", "val", "test")
    }


def cfg(**kw):
    base = dict(lr=0.01, maxpool=True, batch_size=8, epochs=2, seed=42, device="cpu")
    return CNNTrainConfig(**{**base, **kw})


def lone_run(seed, data, epochs, lr, maxpool):
    """Seed `seed` trained alone, the textbook way: the stacked copies' reference."""
    torch.manual_seed(seed)
    model = OCTNet(CNNDimensions(maxpool=maxpool))  # dropout draws continue from here
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    x, y = to_tensor(data["train"][0]), labels_tensor(data["train"][1])
    losses = [train_epoch(model, opt, x, y, 8, shuffle) for _ in range(epochs)]
    return model, losses


@pytest.mark.parametrize("maxpool", [True, False])
def test_a_stacked_seed_follows_the_same_seed_trained_alone(data, one_thread, maxpool):
    runs = train_cnn_runs(
        cfg(epochs=2, seeds=3, lr=0.05, maxpool=maxpool), data, progress=False
    )
    assert [r.seed for r in runs] == [42, 43, 44]
    for run in (runs[0], runs[2]):
        alone, losses = lone_run(run.seed, data, 2, 0.05, maxpool)
        got = [h["train_loss"] for h in run.history]
        assert got == pytest.approx(losses, rel=1e-4)
        for key, value in alone.state_dict().items():
            torch.testing.assert_close(
                run.model.state_dict()[key], value, rtol=1e-4, atol=1e-5, msg=key
            )
    # the copies are independent draws, not one run three times
    assert runs[0].history != runs[1].history


def test_same_config_gives_identical_results(data, one_thread):
    a = train_cnn_runs(cfg(epochs=1, seeds=2), data, progress=False)
    b = train_cnn_runs(cfg(epochs=1, seeds=2), data, progress=False)
    for ra, rb in zip(a, b, strict=True):
        assert ra.history == rb.history
        for k, v in ra.model.state_dict().items():
            assert torch.equal(v, rb.model.state_dict()[k]), k


def test_training_lowers_the_loss_and_logs_mean_and_band(tmp_path, data, one_thread):
    runs = train_cnn_runs(
        cfg(epochs=3, lr=0.1, seeds=2), data, live_dir=tmp_path / "live", progress=False
    )
    for r in runs:
        assert r.history[-1]["train_loss"] < r.history[0]["train_loss"] - 0.01
    assert np.mean([r.history[-1]["val_acc"] for r in runs]) > 0.3  # chance: 0.25
    plots = tmp_path / "live/plots/metrics"
    acc = np.loadtxt(plots / "val/acc.tsv", skiprows=1)
    lo = np.loadtxt(plots / "val/acc_min.tsv", skiprows=1)
    hi = np.loadtxt(plots / "val/acc_max.tsv", skiprows=1)
    assert acc[:, 0].tolist() == [0, 1, 2]  # one row per epoch
    per_epoch = np.array([[h["val_acc"] for h in r.history] for r in runs])
    np.testing.assert_allclose(acc[:, 1], per_epoch.mean(0))
    np.testing.assert_allclose(lo[:, 1], per_epoch.min(0))
    np.testing.assert_allclose(hi[:, 1], per_epoch.max(0))
    assert (plots / "train/loss_max.tsv").is_file()


def test_divergence_is_an_error(data, one_thread):
    with pytest.raises(NonFiniteLossError, match="lower the learning rate"):
        train_cnn_runs(cfg(lr=10, epochs=3), data, progress=False)


def test_checkpoint_round_trip_and_evaluation(tmp_path, data, one_thread):
    runs = train_cnn_runs(cfg(maxpool=False, epochs=1, seeds=2), data, progress=False)
    save_runs(tmp_path / "m.pt", runs, cfg(maxpool=False))
    loaded = load_runs(tmp_path / "m.pt", torch.device("cpu"))
    assert [r.seed for r in loaded] == [42, 43] and not loaded[0].model.dims.maxpool
    assert loaded[1].history == runs[1].history
    metrics, csv = evaluate_cnn(loaded, data, torch.device("cpu"))
    assert set(metrics["test_acc_per_class"]) == {"CNV", "DME", "drusen", "normal"}
    rows = csv.strip().splitlines()
    assert rows[0] == "actual,predicted" and len(rows) == 1 + 2 * 80
    correct = sum(a == p for a, p in (r.split(",") for r in rows[1:]))
    accs = metrics["test_acc_per_seed"]
    assert metrics["test_acc"] == pytest.approx(correct / 160)
    assert metrics["test_acc"] == pytest.approx(sum(accs) / 2)
    # the spread is the per-seed values' std (hw2.pipeline.catalog.seed_std): a std
    # of its own would be one more column of DVC's tables
    assert not [k for k in metrics if k.endswith("_std")]
    assert metrics["seeds"] == 2 and len(metrics["val_acc_per_seed"]) == 2
    low, high = metrics["test_acc_ci95"]
    assert low < metrics["test_acc"] < high and high - low < 0.4
    train_losses = [r.history[-1]["train_loss"] for r in runs]
    assert metrics["train_loss"] == pytest.approx(np.mean(train_losses))
    assert metrics["train_loss_per_seed"] == train_losses
    assert metrics["n_params"] == 224_892


def test_load_runs_refuses_other_files(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(DataError, match="x.pt: not a file saved by train_cnn"):
        load_runs(tmp_path / "x.pt", torch.device("cpu"))
    torch.save({"runs": [{"seed": 1}]}, tmp_path / "y.pt")
    with pytest.raises(DataError, match="y.pt: not a CNN checkpoint"):
        load_runs(tmp_path / "y.pt", torch.device("cpu"))
    with pytest.raises(DataError, match="file not found"):
        load_runs(tmp_path / "none.pt", torch.device("cpu"))


def params(**over):
    cnn = {"maxpool": True, "batch_size": 8, "epochs": 15, "seed": 42, "seeds": 1}
    return Params({"lr": 0.01, "device": "cpu", "cnn": cnn}).override(
        {k: v for k, v in over.items() if v is not ...},
        remove=[k for k, v in over.items() if v is ...],
    )


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("lr", -1, "lr must be a number > 0"),
        ("lr", "fast", "lr must be a number"),
        ("cnn.maxpool", "maybe", "cnn.maxpool must be true or false, got 'maybe'"),
        ("cnn.batch_size", 0, "cnn.batch_size must be an integer >= 1"),
        ("device", "tpu", "device must be one of auto | cpu | cuda"),
        ("cnn.epochs", ..., "missing key 'cnn.epochs'"),
        ("cnn.seeds", 0, "cnn.seeds must be an integer >= 1, <= 32, got 0"),
        ("cnn.seeds", 2.5, "cnn.seeds must be an integer"),
        ("cnn.seeds", 1000, "cnn.seeds must be an integer >= 1, <= 32, got 1000"),
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


def test_a_batch_larger_than_the_training_split_is_refused(data):
    with pytest.raises(ParamError, match="cnn.batch_size must be <= the 320 training"):
        train_cnn_runs(cfg(batch_size=321), data, progress=False)

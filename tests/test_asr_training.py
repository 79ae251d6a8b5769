"""ASR training: params, schedule, resume after a kill, NaN handling, the stages."""

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import run_stage, stage_main

import hw2.asr.train as train_module
from hw2.asr.batching import LengthBucketSampler
from hw2.asr.config import ASRConfig
from hw2.asr.evaluate import ASREvalConfig, evaluate, load_model
from hw2.asr.metrics import TEST_METRICS
from hw2.asr.model import ModelDimensions
from hw2.asr.step import get_lr
from hw2.asr.train import train
from hw2.core.errors import DataError, NonFiniteLossError, ParamError
from hw2.core.params import Params
from hw2.core.provenance import code_digest, import_closure
from hw2.speech.features import SpeechSplit, write_split
from hw2.speech.text import encode

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "red"]

PARAMS = {
    "decoder": "transformer",
    "device": "cpu",
    "threads": 1,
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
        "cpu_bf16": False,
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


class Interrupted(Exception):
    """Raised where HW2_FAILPOINT would SIGKILL the process (interrupt_at)."""


def interrupt_at(monkeypatch, point: str, hits: int = 1) -> None:
    """What HW2_FAILPOINT=<point>:<hits> does to the training, in this process:
    the run stops there, by an exception instead of a SIGKILL."""
    seen = []

    def failpoint(name: str) -> None:
        seen.append(name)
        if seen.count(point) == hits and name == point:
            raise Interrupted(f"{point}:{hits}")

    monkeypatch.setattr(train_module, "failpoint", failpoint)


def epochs_trained(out: str) -> list[int]:
    """The epochs a run reports training, from its output (one line each)."""
    return [int(n) for n in re.findall(r"^epoch (\d+)/\d+: ", out, re.MULTILINE)]


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
    full = Params(PARAMS).override({"data.speech.source": "full", "decoder": "lstm"})
    cfg = ASRConfig.from_params(full)
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
        ("asr.max_frames", 1),  # below audio.MIN_FRAMES
        ("asr.batch_size.sample", 2.5),
        ("asr.warmup", 1.5),
        ("device", "tpu"),
        ("data.speech.source", "web"),
    ],
)
def test_bad_params_name_their_key(key, value):
    with pytest.raises(ParamError, match=key.replace(".", r"\.")):
        ASRConfig.from_params(Params(PARAMS).override({key: value}))


def test_schedule_warms_up_then_decays():
    lrs = [get_lr(s, base_lr=1.0, total_steps=100, warmup=0.15) for s in range(100)]
    assert lrs[0] == pytest.approx(0.01)
    assert max(lrs) == pytest.approx(1.0) and int(np.argmax(lrs)) == 15
    assert lrs[-1] == pytest.approx(0.01)
    assert all(a < b for a, b in zip(lrs[:15], lrs[1:16], strict=True))
    assert all(a > b for a, b in zip(lrs[15:-1], lrs[16:], strict=True))
    assert get_lr(0, base_lr=1.0, total_steps=10, warmup=0.0) == 1.0


def test_killed_run_resumes_and_ends_like_an_uninterrupted_one(
    splits, tmp_path, monkeypatch, capsys
):
    cfg = config()
    whole = run(cfg, splits, tmp_path, "whole")
    with monkeypatch.context() as m:
        interrupt_at(m, "train_epoch", 1)
        with pytest.raises(Interrupted):
            run(cfg, splits, tmp_path, "resumed")
    ckpt = torch.load(tmp_path / "resumed" / "ckpt.pt", weights_only=True)
    assert ckpt["epoch"] == 1
    capsys.readouterr()
    resumed = run(cfg, splits, tmp_path, "resumed")
    out = capsys.readouterr().out
    assert "resuming after epoch 1" in out
    assert epochs_trained(out) == [2, 3]  # the first epoch was not trained again
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    whole_logs = live_files(tmp_path / "whole" / "live")
    assert "plots/metrics/val/similarity.tsv" in whole_logs
    assert whole_logs == live_files(tmp_path / "resumed" / "live")
    summary = json.loads(whole_logs["metrics.json"])
    assert summary["step"] == 2 and set(summary) >= {"train", "val"}


def test_run_stopped_mid_epoch_leaves_no_summary(splits, tmp_path, monkeypatch):
    interrupt_at(monkeypatch, "train_step", 5)  # epoch 2 of 3 batches each
    with pytest.raises(Interrupted):
        run(config(), splits, tmp_path, "cut")
    assert torch.load(tmp_path / "cut" / "ckpt.pt", weights_only=True)["epoch"] == 1
    assert not (tmp_path / "cut" / "live" / "metrics.json").exists()


def test_checkpoint_of_other_params_is_ignored(splits, tmp_path, capsys):
    run(config(epochs=1), splits, tmp_path, "a")
    capsys.readouterr()
    run(config(epochs=2, lr=0.002), splits, tmp_path, "a")
    out = capsys.readouterr().out
    assert "ignoring checkpoint" in out and "other params or data" in out
    assert epochs_trained(out) == [1, 2]


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
    scored = ["jaccard", "cosine", "damerau_levenshtein", "cer", "wer"]
    assert set(metrics) == {
        "loss",
        *scored,
        *(f"{name}_ci95" for name in scored),
        "n_params",
        "decoder",
        "attention",
        "cross_attention",
    }
    for name in scored:
        low, high = metrics[f"{name}_ci95"]
        assert 0 <= low <= high and (high <= 1 or name in ("cer", "wer"))
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
    params = Params(PARAMS).override({"asr.epochs.sample": 1}).data
    write_project(tmp_path, splits, params)
    monkeypatch.chdir(tmp_path)
    stage_main("train_asr", monkeypatch)()
    stage_main("evaluate_asr", monkeypatch)()
    assert load_model(tmp_path / "data/models/asr.pt").dims.n_state == 16
    # the resume checkpoint is gone once the model is saved
    assert not (tmp_path / "data/checkpoints/asr.pt").exists()
    assert (tmp_path / "metrics/train_asr/plots/metrics/train/loss.tsv").is_file()
    metrics = json.loads((tmp_path / "metrics/asr.json").read_text())
    details = json.loads((tmp_path / "metrics/asr_details.json").read_text())
    assert details["decoder"] == "transformer" and 0 <= metrics["jaccard"] <= 1
    assert set(metrics) == {k + s for k in TEST_METRICS for s in ("", "_ci95")} - {
        "loss_ci95"
    }
    lines = (tmp_path / "metrics/asr_transcripts.tsv").read_text().splitlines()
    assert lines[0] == "id\treference\thypothesis" and len(lines) == 6
    assert not (tmp_path / "dvc.yaml").exists()  # dvclive must not write one


def test_stage_refuses_bad_params_before_work(splits, tmp_path):
    params = Params(PARAMS).override({"decoder": "gru"}).data
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


# --- what a resume may use, and splits that cannot be trained on -------------------


def test_checkpoint_of_other_code_is_discarded(splits, tmp_path, monkeypatch, capsys):
    with monkeypatch.context() as m:
        interrupt_at(m, "train_epoch", 1)
        with pytest.raises(Interrupted):
            run(config(epochs=2), splits, tmp_path, "a")
    real = train_module.code_digest("hw2.asr.train")
    # what an edit of any source in the closure does to the digest
    monkeypatch.setattr(train_module, "code_digest", lambda *names: real[::-1])
    capsys.readouterr()
    run(config(epochs=2), splits, tmp_path, "a")
    out = capsys.readouterr().out
    assert "ignoring checkpoint" in out and "made by other code" in out
    assert epochs_trained(out) == [1, 2]


def interrupted_after_one_epoch(cfg, splits, tmp_path, monkeypatch, name):
    """A whole run, and the checkpoint a run `name` left when stopped after epoch 1."""
    whole = run(cfg, splits, tmp_path, "whole")
    with monkeypatch.context() as m:
        interrupt_at(m, "train_epoch", 1)
        with pytest.raises(Interrupted):
            run(cfg, splits, tmp_path, name)
    return whole, tmp_path / name / "ckpt.pt"


def test_checkpoint_that_does_not_fit_the_model_is_discarded(
    splits, tmp_path, monkeypatch, capsys
):
    cfg = config(epochs=2)
    whole, path = interrupted_after_one_epoch(cfg, splits, tmp_path, monkeypatch, "b")
    ckpt = torch.load(path, weights_only=True)
    ckpt["model_state_dict"].popitem()  # as if the model class had changed
    torch.save(ckpt, path)
    capsys.readouterr()
    resumed = run(cfg, splits, tmp_path, "b")
    out = capsys.readouterr().out
    lines = [x for x in out.splitlines() if "checkpoint" in x]
    assert len(lines) == 1 and "does not fit the model" in lines[0]
    assert epochs_trained(out) == [1, 2]
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_unreadable_checkpoint_is_discarded_in_one_line(splits, tmp_path, capsys):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "ckpt.pt").write_bytes(b"")
    run(config(epochs=1), splits, tmp_path, "c")
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "checkpoint" in x]
    assert line.startswith("train_asr: ignoring checkpoint") and "empty file" in line


def flip_bit_in_member(path: Path, member: str) -> None:
    """One flipped bit inside a zip member's bytes, as a kill or bit rot leaves."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(path.read_bytes())
    data[start + info.file_size // 2] ^= 0x04
    path.write_bytes(data)


def test_bit_flipped_checkpoint_is_discarded_in_one_line(
    splits, tmp_path, monkeypatch, capsys
):
    cfg = config(epochs=2)
    whole, path = interrupted_after_one_epoch(
        cfg, splits, tmp_path, monkeypatch, "flip"
    )
    flip_bit_in_member(path, "archive/data/0")
    assert torch.load(path, weights_only=True)["epoch"] == 1  # torch loads it
    capsys.readouterr()
    again = run(cfg, splits, tmp_path, "flip")
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if "checkpoint" in x]
    assert line.startswith(f"train_asr: ignoring checkpoint {path}: corrupted: ")
    assert "archive/data/0 fails its zip CRC check" in line
    assert epochs_trained(out) == [1, 2]
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name


def test_empty_split_is_refused_before_training(splits, tmp_path):
    write_split(tmp_path / "empty", [], n_mels=80)
    empty = SpeechSplit(tmp_path / "empty")
    with pytest.raises(DataError, match="the validation split has 0 clips"):
        train(
            config(),
            splits["train"],
            empty,
            checkpoint_path=tmp_path / "c.pt",
            live_dir=tmp_path / "live",
            progress=False,
        )
    assert not (tmp_path / "live").exists()


def test_features_longer_than_max_frames_are_refused(splits, tmp_path):
    cfg = ASRConfig.from_params(Params(PARAMS).override({"asr.max_frames": 8}))
    with pytest.raises(DataError, match="longer than asr.max_frames allows"):
        run(cfg, splits, tmp_path, "short")


def test_import_closure_is_read_from_the_sources(tmp_path, monkeypatch):
    closure = import_closure("hw2.asr.train")
    assert {"hw2.asr.model", "hw2.attention.mclaurin", "hw2.asr.batching"} <= set(
        closure
    )
    assert not any(name.startswith("hw2.oct") for name in closure)
    assert closure["hw2.asr.train"] == ROOT / "src/hw2/asr/train.py"
    # imports inside functions count; other packages do not
    pkg = tmp_path / "fake_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import json\ndef f():\n    from fake_pkg import b\n")
    (pkg / "b.py").write_text("from fake_pkg.c import x\n")
    (pkg / "c.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = set(import_closure("fake_pkg.a", package="fake_pkg"))
    assert names == {"fake_pkg", "fake_pkg.a", "fake_pkg.b", "fake_pkg.c"}
    before = code_digest("fake_pkg.a", package="fake_pkg")
    (pkg / "c.py").write_text("x = 2\n")
    assert code_digest("fake_pkg.a", package="fake_pkg") != before


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"not a model", "not a file saved by train_asr")],
)
def test_evaluate_stage_on_a_bad_model_file_is_one_line(
    splits, tmp_path, content, message
):
    write_project(tmp_path, splits, PARAMS)
    (tmp_path / "data" / "models").mkdir()
    (tmp_path / "data" / "models" / "asr.pt").write_bytes(content)
    done = run_stage("evaluate_asr", tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: data/models/asr.pt: ") and message in line
    assert "weights_only" not in done.stderr


def test_train_stage_refuses_an_empty_feature_split(splits, tmp_path):
    write_project(tmp_path, splits, PARAMS)
    write_split(tmp_path / "data" / "features" / "validation", [], n_mels=80)
    done = run_stage("train_asr", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: data/features/validation: the validation split has 0 clips"
    ]


def test_batches_are_pinned_only_for_a_gpu(splits):
    from hw2.asr.batching import SpeechDataset, loader

    def batches(device: str, **kwargs):
        sampler = LengthBucketSampler(splits["train"].n_frames, 4, **kwargs)
        return loader(SpeechDataset(splits["train"]), sampler, torch.device(device))

    assert batches("cpu").pin_memory is False
    assert batches("cuda").pin_memory is True
    # a training epoch's batches: every clip once, in the order of (seed, epoch)
    order = [b.indices.tolist() for b in batches("cpu", seed=1)]
    assert order == [b.indices.tolist() for b in batches("cpu", seed=1)]
    assert sorted(i for b in order for i in b) == list(range(len(splits["train"])))

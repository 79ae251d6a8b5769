"""A rehearsal of the full job on stand-ins at the real sizes: what each stage costs.

The stages run through the same library functions as the DVC stages (no dvc or
dvclive needed, so it also runs on a bare GPU machine): phantom images at
OCTMNIST's sizes, the CNN (both variants), the eSpeak NG corpus at LJ Speech's
size, its preprocessing, and the ASR (each decoder/attention of the homework),
training and validation. Each stage is timed and its peak memory and disk use
recorded. Where only part of a stage is run (`clip_fraction`, `cnn_steps`,
`asr_steps`), its full-size cost is projected from the part, and the record says
which numbers were measured and which projected; `budget_s` cuts the ASR runs'
training to fit a wall-clock limit the same way. Each ASR run follows the first
epoch of the real learning-rate schedule and records its loss and validation
CER next to its cost, so a full epoch shows learning. Finally the homework's grid
(the CNN at three learning rates plus the no-pool variant at the best, the ASR
with each decoder and with McLaurin attention) is projected from the per-epoch
costs.
"""

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from metering import Recorder, dir_bytes, machine, sync, timed

from hw2.core.device import one_cpu_thread, pick_device
from hw2.core.params import Params

# OCTMNIST's splits and LJ Speech's clips: the real sizes.
FULL = {"n_train": 97477, "n_val": 10832, "n_test": 1000, "n_clips": 13100}
TINY = {"n_train": 48, "n_val": 16, "n_test": 16, "n_clips": 12}
FEATURES_ESTIMATE = 1.9e9  # bytes of LJ Speech's features (hw2.speech.preprocess)
# (name, decoder, self-attention) of the homework's ASR runs
ASR_RUNS = (
    ("transformer", "transformer", "softmax"),
    ("lstm", "lstm", "softmax"),
    ("mclaurin", "transformer", "mclaurin"),
)
TRAIN_SHARE = 0.5  # of an ASR run's share of the budget; the rest validates
PROGRESS_EVERY = 10  # ASR steps between progress lines
CNN_LRS = 3  # the homework's learning rates, then no-pool at the best one


@dataclass
class RehearsalConfig:
    """What to run: sizes, device, and which stages run only in part."""

    sizes: dict[str, int] = field(default_factory=lambda: dict(FULL))
    device: str = "auto"
    synth_workers: int = 1
    clip_fraction: float = 1.0  # share of n_clips synthesised and preprocessed
    cnn_steps: int | None = None  # None: whole epochs
    # steps of each ASR run: None a whole epoch; an int for every run, or a
    # {run: steps} mapping (runs not named train a whole epoch)
    asr_steps: int | dict[str, int] | None = None
    asr_runs: tuple[str, ...] = tuple(name for name, _, _ in ASR_RUNS)
    # wall-clock seconds for the whole rehearsal (None: no limit): each ASR run
    # trains until its share of what is left is spent, then is projected
    budget_s: float | None = None
    seed: int = 0

    def __post_init__(self):
        for key, value in self.sizes.items():
            if value < 1:
                raise ValueError(f"sizes.{key} must be at least 1, got {value}")
        if not 0 < self.clip_fraction <= 1:
            raise ValueError(
                f"clip_fraction must be in (0, 1], got {self.clip_fraction}"
            )
        steps = {"cnn_steps": self.cnn_steps}
        if isinstance(self.asr_steps, dict):
            steps.update({f"asr_steps.{k}": v for k, v in self.asr_steps.items()})
        else:
            steps["asr_steps"] = self.asr_steps
        for name, value in steps.items():
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.budget_s is not None and self.budget_s <= 0:
            raise ValueError(f"budget_s must be above 0, got {self.budget_s}")
        known = {name for name, _, _ in ASR_RUNS}
        unknown = set(self.asr_runs) - known
        if isinstance(self.asr_steps, dict):
            unknown |= set(self.asr_steps) - known
        if unknown:
            raise ValueError(f"unknown ASR runs {sorted(unknown)}")

    def steps_of(self, run: str) -> int | None:
        """ASR training steps of one run (None: a whole epoch)."""
        if isinstance(self.asr_steps, dict):
            return self.asr_steps.get(run)
        return self.asr_steps


def image_params(params: Params, config: RehearsalConfig) -> Params:
    """params with the phantom images at the configured sizes."""
    sizes = config.sizes
    return params.override(
        {
            "data.images.source": "sample",
            "data.images.sample.n_train": sizes["n_train"],
            "data.images.sample.n_val": sizes["n_val"],
            "data.images.sample.n_test": sizes["n_test"],
        }
    )


def asr_params(params: Params, run: str, device: torch.device) -> Params:
    """params of one of the homework's ASR runs (ASR_RUNS) on the full data."""
    _, decoder, attention = next(r for r in ASR_RUNS if r[0] == run)
    return params.override(
        {
            "data.speech.source": "full",
            "decoder": decoder,
            "asr.attention": attention,
            "device": device.type,
        }
    )


def check_params(params: Params, config: RehearsalConfig) -> None:
    """Read every key the rehearsal will, before any work: a typo or a bad value
    in params.yaml is the stages' usual one-line ParamError."""
    from hw2.asr.config import ASRConfig
    from hw2.images.prepare import ImageDataConfig
    from hw2.oct.train import CNNTrainConfig

    ImageDataConfig.from_params(image_params(params, config))
    CNNTrainConfig.from_params(params)
    for run in config.asr_runs:
        ASRConfig.from_params(asr_params(params, run, torch.device("cpu")))
    params.integer("asr.epochs.full", low=1)  # the grid's projection reads it


def run_images(rec: Recorder, params: Params, config: RehearsalConfig, work: Path):
    """Phantom images at the configured sizes, written as octmnist.npz."""
    from hw2.images.octmnist import load_octmnist
    from hw2.images.prepare import ImageDataConfig, prepare_images

    sizes = config.sizes
    images = ImageDataConfig.from_params(image_params(params, config))
    with rec.stage("download_images") as r:
        path = prepare_images(images, work / "octmnist.npz")
        r["measured"] = (
            f"{sum(sizes[k] for k in ('n_train', 'n_val', 'n_test'))} images"
        )
        r["bytes"] = path.stat().st_size
    return load_octmnist(path)


def run_cnn(rec: Recorder, params: Params, config: RehearsalConfig, data) -> dict:
    """Seconds per CNN epoch (training + validation) of each variant, with all of
    cnn.seeds stacked as train_cnn trains them."""
    from hw2.oct.model import labels_tensor, to_tensor
    from hw2.oct.train import CNNTrainConfig, stacked_epoch, stacked_predict, start

    device = rec.device
    base = CNNTrainConfig.from_params(params)
    x_all, y_all = to_tensor(data["train"][0]), labels_tensor(data["train"][1])
    x_val = to_tensor(data["val"][0]).to(device)
    steps_per_epoch = math.ceil(len(x_all) / base.batch_size)
    steps = min(config.cnn_steps or steps_per_epoch, steps_per_epoch)
    n = min(steps * base.batch_size, len(x_all))
    x, y = x_all[:n].to(device), y_all[:n].to(device)
    epochs = {}
    for maxpool in (True, False):
        name = "train_cnn" + ("" if maxpool else "_nopool")
        with rec.stage(name) as r, one_cpu_thread(device):
            net, optimizer, shuffles = start(replace(base, maxpool=maxpool), device)
            train_s, _ = timed(
                device, stacked_epoch, net, optimizer, x, y, base.batch_size, shuffles
            )
            val_s, _ = timed(device, stacked_predict, net, x_val)
            epoch_s = train_s * steps_per_epoch / steps + val_s
            r["measured"] = (
                f"{steps} of {steps_per_epoch} steps at batch {base.batch_size}, "
                f"{base.seeds} seeds stacked ({train_s:.1f} s) + validation of "
                f"{len(x_val)} images ({val_s:.1f} s)"
            )
            r["epoch_s"] = round(epoch_s, 2)
            r["epoch_projected"] = steps < steps_per_epoch
            epochs[name] = epoch_s
    return epochs


def run_speech(rec: Recorder, config: RehearsalConfig, work: Path) -> dict:
    """The eSpeak NG corpus and its features (a fraction of n_clips, projected)."""
    from hw2.speech.corpus import synthesize_corpus
    from hw2.speech.preprocess import preprocess_corpus

    n_full = config.sizes["n_clips"]
    n = max(3, round(n_full * config.clip_fraction))
    scale = n_full / n
    corpus = work / "LJSpeech-1.1"
    with rec.stage("download_speech") as r:
        corpus.mkdir(parents=True, exist_ok=True)
        synthesize_corpus(
            corpus, n, config.seed, progress=False, workers=config.synth_workers
        )
        r["measured"] = f"{n} of {n_full} clips, {config.synth_workers} worker(s)"
        r["bytes"] = dir_bytes(corpus)
    rec.stages[-1]["projected_s"] = round(rec.stages[-1]["wall_s"] * scale, 1)
    rec.stages[-1]["projected_bytes"] = round(rec.stages[-1]["bytes"] * scale)
    with rec.stage("preprocess_speech") as r:
        report = preprocess_corpus(corpus, work / "features", progress=False)
        r["measured"] = f"{n} of {n_full} clips"
        r["bytes"] = report["bytes"]
        r["projected_bytes"] = round(report["bytes"] * scale)
        r["estimated_bytes"] = FEATURES_ESTIMATE
        r["report"] = report
    rec.stages[-1]["projected_s"] = round(rec.stages[-1]["wall_s"] * scale, 1)
    return report


class _Repeated(torch.utils.data.Dataset):
    """A split's clips repeated to `n` items: full-size epochs from a fraction."""

    def __init__(self, split, n: int):
        from hw2.asr.batching import SpeechDataset

        self.base, self.n_base, self.n = SpeechDataset(split), len(split), n
        self.lengths = np.resize(np.asarray(split.n_frames), n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        _, mel, tokens = self.base[i % self.n_base]
        return i, mel, tokens


def run_asr(
    rec: Recorder,
    params: Params,
    config: RehearsalConfig,
    work: Path,
    deadline: float | None = None,
) -> dict:
    """Seconds per ASR epoch (training at full batch shapes + validation), per run.

    deadline (time.monotonic): each run's training stops once its share of the
    time left is spent (TRAIN_SHARE of it, the rest for validation), after at
    least two steps; the epoch is then projected from the steps done.
    """
    from hw2.asr.batching import LengthBucketSampler, loader
    from hw2.asr.config import ASRConfig
    from hw2.asr.metrics import asr_metrics
    from hw2.asr.scoring import evaluate_loss, transcribe
    from hw2.asr.step import start, train_step
    from hw2.speech.features import SpeechSplit
    from hw2.speech.ljspeech import split_bounds

    device = rec.device
    train_split = SpeechSplit(work / "features" / "train")
    val_split = SpeechSplit(work / "features" / "validation")
    a, b = split_bounds(config.sizes["n_clips"])
    n_train, n_val = a, b - a
    dataset = _Repeated(train_split, n_train)
    epochs = {}
    runs = [run for run in ASR_RUNS if run[0] in config.asr_runs]
    for i, (name, _, _) in enumerate(runs):
        train_until = None
        if deadline is not None:
            left = max(deadline - time.monotonic(), 0.0)
            train_until = time.monotonic() + TRAIN_SHARE * left / (len(runs) - i)
        asr = ASRConfig.from_params(asr_params(params, name, device))
        sampler = LengthBucketSampler(dataset.lengths, asr.batch_size, seed=asr.seed)
        batches = loader(dataset, sampler, device)
        steps_per_epoch = len(sampler)
        steps = min(config.steps_of(name) or steps_per_epoch, steps_per_epoch)
        # the first epoch of the real schedule (warm-up, then linear decay)
        model, optimizer, scheduler = start(asr, device, steps_per_epoch)
        with rec.stage(f"train_asr_{name}") as r:
            model.train()
            times, losses, frames = [], [], 0
            cut = False
            for step, batch in enumerate(batches):
                if step == steps:
                    break
                if (
                    train_until is not None
                    and step >= 2
                    and (time.monotonic() > train_until)
                ):
                    cut = True  # the budget's share is spent: project the rest
                    break
                sync(device)
                started = time.perf_counter()
                batch = batch.to(device)
                loss, _ = train_step(model, batch, optimizer, scheduler, asr)
                losses.append(loss)  # .item() inside: syncs, as train_asr does
                times.append(time.perf_counter() - started)
                frames += int(batch.n_frames.sum())
                if (step + 1) % PROGRESS_EVERY == 0 or step + 1 == steps:
                    recent = np.mean(losses[-PROGRESS_EVERY:])
                    print(
                        f"{name}: step {step + 1}/{steps} of {steps_per_epoch}, "
                        f"{sum(times):.0f} s, loss {recent:.3f}",
                        flush=True,
                    )
            # the first step pays for allocation and kernel choice: left out
            # when there are others to average
            steps = len(times)
            step_s = float(np.mean(times[1:] if len(times) > 1 else times))
            train_s = (
                sum(times) if steps == steps_per_epoch else step_s * steps_per_epoch
            )
            if cut:
                r["cut_by_budget"] = True
            # both use the training's bf16 autocast on CUDA themselves
            loss_s, val_loss = timed(
                device,
                evaluate_loss,
                model,
                val_split,
                asr.eval_batch_size,
                device,
                asr.label_smoothing,
            )
            n_decode = min(asr.val_decode, len(val_split))
            decode_s, hyps = timed(
                device,
                transcribe,
                model,
                val_split,
                asr.eval_batch_size,
                device,
                n_decode,
            )
            refs = [val_split.tokens(i).tolist() for i in range(n_decode)]
            val_cer = asr_metrics(refs, hyps)["cer"]
            val_s = loss_s * n_val / len(val_split) + decode_s * (
                min(asr.val_decode, n_val) / n_decode
            )
            r["measured"] = (
                f"{steps} of {steps_per_epoch} steps at batch {asr.batch_size} "
                f"({sum(times):.1f} s, {frames} frames); validation loss of "
                f"{len(val_split)} clips ({loss_s:.1f} s), {n_decode} decoded "
                f"({decode_s:.1f} s)"
            )
            r["step_s"] = round(step_s, 4)
            # learning, not only cost: the loss of the first and last tenth of the
            # steps, and validation after them (of the first epoch of asr.epochs)
            tenth = max(1, len(losses) // 10)
            r["train_loss_first_tenth"] = round(float(np.mean(losses[:tenth])), 4)
            r["train_loss_last_tenth"] = round(float(np.mean(losses[-tenth:])), 4)
            r["val_loss"] = round(val_loss, 4)
            r["val_cer"] = round(float(val_cer), 4)
            r["epoch_s"] = round(train_s + val_s, 2)
            r["epoch_projected"] = steps < steps_per_epoch or len(val_split) < n_val
            # a test clip costs its loss and its decoding
            r["test_clip_s"] = round(decode_s / n_decode + loss_s / len(val_split), 4)
            r["n_params"] = model.n_params()
            epochs[name] = {"epoch_s": train_s + val_s, "test_clip_s": r["test_clip_s"]}
    return epochs


def project_grid(
    params: Params, config: RehearsalConfig, stages: list[dict], cnn: dict, asr: dict
) -> dict:
    """Seconds of the homework's grid, run one after another, from per-epoch costs."""
    from hw2.speech.ljspeech import split_bounds

    cnn_epochs = params.integer("cnn.epochs", low=1)
    asr_epochs = params.integer("asr.epochs.full", low=1)
    _, b = split_bounds(config.sizes["n_clips"])
    n_test = config.sizes["n_clips"] - b
    data_s = sum(
        s.get("projected_s") or s["wall_s"]
        for s in stages
        if s["stage"] in ("download_images", "download_speech", "preprocess_speech")
    )
    cnn_s = CNN_LRS * cnn_epochs * cnn.get("train_cnn", 0.0)
    cnn_s += cnn_epochs * cnn.get("train_cnn_nopool", 0.0)
    asr_runs = {
        name: asr_epochs * run["epoch_s"] + n_test * run["test_clip_s"]
        for name, run in asr.items()
    }
    return {
        "cnn_epochs": cnn_epochs,
        "asr_epochs": asr_epochs,
        "data_s": round(data_s, 1),
        "cnn_grid_s": round(cnn_s, 1),
        "asr_runs_s": {k: round(v, 1) for k, v in asr_runs.items()},
        "total_s": round(data_s + cnn_s + sum(asr_runs.values()), 1),
        "note": "stages one after another, each ASR run with its test evaluation; "
        "CNN evaluation (1,000 images) and the attention benchmark left out",
    }


def rehearse(
    params: Params,
    config: RehearsalConfig,
    work: str | Path | None = None,
    partial: str | Path | None = None,
) -> dict[str, Any]:
    """Run every stage as configured; return the records and the grid projection.

    `partial`: a JSON file rewritten with the records so far after every stage.
    """
    deadline = (
        time.monotonic() + config.budget_s if config.budget_s is not None else None
    )
    device = pick_device(config.device)
    check_params(params, config)
    rec = Recorder(device, Path(partial) if partial is not None else None)
    info = machine()
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        tmp = Path(tmp)
        data = run_images(rec, params, config, tmp)
        cnn = run_cnn(rec, params, config, data)
        del data
        run_speech(rec, config, tmp)
        asr = run_asr(rec, params, config, tmp, deadline) if config.asr_runs else {}
    info["loadavg_at_end"] = (
        [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    )
    return {
        "config": asdict(config),
        "device": str(device),
        "machine": info,
        "stages": rec.stages,
        "grid": project_grid(params, config, rec.stages, cnn, asr),
    }

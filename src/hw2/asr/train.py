"""Training and evaluation of the speech recogniser (study 3).

Teacher forcing, cross-entropy with label smoothing (PAD ignored), AdamW, a linear
warm-up from 1% of the learning rate over the first `warmup` fraction of the steps,
then a linear decay to 1%. A checkpoint after every epoch holds the model,
optimizer, scheduler, RNG states and the metric history, so a killed run resumes at
the next epoch and ends exactly as an uninterrupted one would.
"""

import hashlib
import json
import pickle
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from hw2.asr.batching import Batch, LengthBucketSampler, SpeechDataset, collate
from hw2.asr.decoding import greedy_decode
from hw2.asr.features import SpeechSplit
from hw2.asr.metrics import SIMILARITIES, asr_metrics
from hw2.asr.model import (
    ATTENTION_FORMS,
    ATTENTIONS,
    DECODERS,
    ASRModel,
    ModelDimensions,
    conv_out_length,
)
from hw2.asr.text import PAD, decode
from hw2.core.device import DEVICES, pick_device, seed_everything
from hw2.core.errors import DataError, Hw2Error, ParamError
from hw2.core.io import save_torch
from hw2.core.params import DATA_SOURCES, Params

LR_FLOOR = 0.01  # the schedule starts and ends at 1% of the peak learning rate


class NonFiniteLossError(Hw2Error):
    """The loss became NaN or infinite: training cannot go on."""


@dataclass(frozen=True)
class ASRConfig:
    """Everything train_asr reads from params.yaml, checked."""

    dims: ModelDimensions
    lr: float = 1e-3
    epochs: int = 15
    batch_size: int = 64
    eval_batch_size: int = 16
    label_smoothing: float = 0.1
    warmup: float = 0.15  # fraction of all steps spent warming up
    val_decode: int = 200  # validation clips greedily decoded per epoch
    seed: int = 42
    device: str = "auto"

    @classmethod
    def from_params(cls, p: Params) -> "ASRConfig":
        """Read and check the ASR keys; a bad value raises ParamError naming its key."""
        source = p.choice("data.speech.source", DATA_SOURCES)
        hidden = p.integer("asr.model.hidden", low=1)
        heads = p.integer("asr.model.heads", low=1)
        if hidden % heads:
            raise ParamError(
                f"{p.source}: asr.model.hidden must be a multiple of asr.model.heads, "
                f"got {hidden} and {heads}"
            )
        max_frames = p.integer("asr.max_frames", low=1)
        dims = ModelDimensions(
            n_audio_ctx=conv_out_length(max_frames),
            n_state=hidden,
            n_head=heads,
            n_mlp=p.integer("asr.model.mlp", low=1),
            n_audio_layer=p.integer("asr.model.encoder_layers", low=1),
            decoder=p.choice("decoder", DECODERS),
            attention=p.choice("asr.attention", ATTENTIONS),
            cross_attention=p.choice("asr.cross_attention", ATTENTIONS),
            attention_form=p.choice("asr.attention_form", ATTENTION_FORMS),
        )
        return cls(
            dims=dims,
            lr=p.number("asr.lr", low=0, low_open=True),
            epochs=p.integer(f"asr.epochs.{source}", low=1),
            batch_size=p.integer(f"asr.batch_size.{source}", low=1),
            eval_batch_size=p.integer("asr.eval_batch_size", low=1),
            label_smoothing=p.number("asr.label_smoothing", low=0, high=0.99),
            warmup=p.number("asr.warmup", low=0, high=0.99),
            val_decode=p.integer("asr.val_decode", low=1),
            seed=p.integer("asr.seed", low=0),
            device=p.choice("device", DEVICES),
        )


@dataclass(frozen=True)
class ASREvalConfig:
    """What evaluate_asr reads from params.yaml, checked."""

    eval_batch_size: int = 16
    label_smoothing: float = 0.1  # the test loss is the training loss, smoothing too
    device: str = "auto"

    @classmethod
    def from_params(cls, p: Params) -> "ASREvalConfig":
        """Read and check the keys; a bad value raises ParamError naming its key."""
        return cls(
            eval_batch_size=p.integer("asr.eval_batch_size", low=1),
            label_smoothing=p.number("asr.label_smoothing", low=0, high=0.99),
            device=p.choice("device", DEVICES),
        )


def get_lr(step: int, *, base_lr: float, total_steps: int, warmup: float) -> float:
    """Learning rate at optimizer step `step` (0-based) of `total_steps`."""
    warmup_steps = round(warmup * total_steps)
    if step < warmup_steps:
        return base_lr * (LR_FLOOR + (1 - LR_FLOOR) * step / warmup_steps)
    decay_steps = max(total_steps - 1 - warmup_steps, 1)
    done = min((step - warmup_steps) / decay_steps, 1.0)
    return base_lr * (1 - (1 - LR_FLOOR) * done)


def token_loss(
    model: ASRModel, batch: Batch, label_smoothing: float
) -> tuple[torch.Tensor, int]:
    """Teacher-forced mean cross-entropy over non-PAD targets, and their count."""
    inputs, targets = batch.tokens[:, :-1], batch.tokens[:, 1:]
    logits = model(batch.mels, batch.n_frames, inputs)  # (B, L-1, n_vocab)
    loss = F.cross_entropy(
        logits.float().transpose(1, 2),
        targets,
        ignore_index=PAD,
        label_smoothing=label_smoothing,
    )
    return loss, int((targets != PAD).sum())


def _loader(
    split: SpeechSplit, sampler: LengthBucketSampler
) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        SpeechDataset(split), batch_sampler=sampler, collate_fn=collate
    )


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def _check_finite(loss: torch.Tensor, where: str) -> None:
    if not torch.isfinite(loss):
        raise NonFiniteLossError(
            f"the ASR loss became {loss.item()} {where}; "
            "check the features for NaN/inf values or lower asr.lr"
        )


@torch.no_grad()
def evaluate_loss(
    model: ASRModel,
    split: SpeechSplit,
    batch_size: int,
    device: torch.device,
    label_smoothing: float,
) -> float:
    """Token-weighted mean teacher-forced loss over a split."""
    model.eval()
    total, count = 0.0, 0
    sampler = LengthBucketSampler(split.n_frames, batch_size, shuffle=False)
    for batch in _loader(split, sampler):
        batch = batch.to(device)
        with _autocast(device):
            loss, n = token_loss(model, batch, label_smoothing)
        _check_finite(loss, f"while evaluating {split.path}")
        total += loss.item() * n
        count += n
    return total / count


@torch.no_grad()
def transcribe(
    model: ASRModel,
    split: SpeechSplit,
    batch_size: int,
    device: torch.device,
    limit: int | None = None,
    progress: bool = False,
) -> list[list[int]]:
    """Greedy token sequences (SOS first) for the first `limit` clips of a split."""
    n = len(split) if limit is None else min(limit, len(split))
    sampler = LengthBucketSampler(split.n_frames[:n], batch_size, shuffle=False)
    out: list[list[int]] = [[] for _ in range(n)]
    model.eval()
    for batch in tqdm(
        _loader(split, sampler), desc="decoding", unit="batch", disable=not progress
    ):
        batch = batch.to(device)
        with _autocast(device):
            tokens = greedy_decode(model, batch.mels, batch.n_frames)
        for i, row in zip(batch.indices.tolist(), tokens.tolist(), strict=True):
            out[i] = row
    return out


def _fingerprint(config: ASRConfig, *splits: SpeechSplit) -> str:
    """Hash of the config (device aside) and of the data a checkpoint was trained on."""
    digest = hashlib.sha256()
    settings = asdict(replace(config, device="any"))
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for split in splits:
        for array in (split.frame_offsets, split.token_offsets, split.tokens_flat):
            digest.update(np.ascontiguousarray(array).tobytes())
        # A strided sample of frames: changed features change them, and hashing
        # every frame of the full corpus (>1 GB) would take a while.
        digest.update(np.ascontiguousarray(split.mels[::97]).tobytes())
    return digest.hexdigest()


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            *np_state[2:],
        ),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
        tqdm.write(f"train_asr: ignoring unreadable checkpoint {path} ({exc})")
        return None
    if not isinstance(checkpoint, dict) or checkpoint.get("fingerprint") != fingerprint:
        tqdm.write(
            f"train_asr: ignoring checkpoint {path}: it was made with other params or "
            "data; starting afresh"
        )
        return None
    return checkpoint


def _validate(
    model: ASRModel, split: SpeechSplit, config: ASRConfig, device: torch.device
) -> dict[str, float]:
    """Validation loss, and similarity/CER of greedy transcripts of a subset."""
    loss = evaluate_loss(
        model, split, config.eval_batch_size, device, config.label_smoothing
    )
    hyps = transcribe(model, split, config.eval_batch_size, device, config.val_decode)
    refs = [split.tokens(i).tolist() for i in range(len(hyps))]
    scores = asr_metrics(refs, hyps)
    similarity = float(np.mean([scores[name] for name in SIMILARITIES]))
    return {"val/loss": loss, "val/similarity": similarity, "val/cer": scores["cer"]}


def train(
    config: ASRConfig,
    train_split: SpeechSplit,
    val_split: SpeechSplit,
    *,
    checkpoint_path: str | Path,
    live_dir: str | Path,
    progress: bool = True,
    on_epoch_end: Callable[[int], None] | None = None,
) -> ASRModel:
    """Train (or resume training) and return the model, on the CPU.

    Logs train/loss, val/loss, val/similarity and val/cer per epoch to dvclive in
    live_dir and checkpoints every epoch to checkpoint_path. on_epoch_end(epoch) is
    called after each checkpoint (tests use it to interrupt a run). A non-finite
    loss raises NonFiniteLossError and removes dvclive's summary metrics file.
    """
    for split in (train_split, val_split):
        if split.n_mels != config.dims.n_mels:
            raise DataError(
                f"{split.path}: {split.n_mels} mel bands, the model takes "
                f"{config.dims.n_mels}"
            )
    checkpoint_path = Path(checkpoint_path)
    device = pick_device(config.device)
    seed_everything(config.seed)
    model = ASRModel(config.dims).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    sampler = LengthBucketSampler(
        train_split.n_frames, config.batch_size, seed=config.seed
    )
    steps_per_epoch = len(sampler)
    total_steps = config.epochs * steps_per_epoch

    def lr_factor(step: int) -> float:
        return get_lr(step, base_lr=1.0, total_steps=total_steps, warmup=config.warmup)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    fingerprint = _fingerprint(config, train_split, val_split)
    start_epoch, history = 0, []
    checkpoint = _load_checkpoint(checkpoint_path, fingerprint)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model_state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
        _set_rng_state(checkpoint["rng"])
        start_epoch, history = checkpoint["epoch"], checkpoint["history"]
        tqdm.write(f"train_asr: resuming after epoch {start_epoch} of {config.epochs}")

    from dvclive import Live  # imported here: it is slow, and params come first

    live = Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None)
    # Replay the logged epochs: a resumed run's logs equal an uninterrupted one's.
    for logged in history:
        for name, value in logged.items():
            live.log_metric(name, value)
        live.next_step()

    bar = tqdm(
        total=total_steps,
        initial=start_epoch * steps_per_epoch,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        for epoch in range(start_epoch, config.epochs):
            bar.set_description(f"epoch {epoch + 1}/{config.epochs}")
            started = time.perf_counter()
            model.train()
            sampler.set_epoch(epoch)
            total, count = 0.0, 0
            for step, batch in enumerate(_loader(train_split, sampler)):
                batch = batch.to(device)
                with _autocast(device):
                    loss, n = token_loss(model, batch, config.label_smoothing)
                _check_finite(loss, f"at epoch {epoch + 1}, step {step + 1}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total += loss.item() * n
                count += n
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
            logged = {"train/loss": total / count}
            logged.update(_validate(model, val_split, config, device))
            history.append(logged)
            save_torch(
                checkpoint_path,
                {
                    "fingerprint": fingerprint,
                    "epoch": epoch + 1,
                    "history": history,
                    "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict(),
                    "scheduler_state_dict": scheduler.state_dict(),
                    "rng": _rng_state(),
                    "sampler": {"seed": sampler.seed, "epoch": epoch + 1},
                },
            )
            for name, value in logged.items():
                live.log_metric(name, value)
            live.next_step()
            tqdm.write(
                f"epoch {epoch + 1}/{config.epochs}: "
                + " ".join(f"{k} {v:.4f}" for k, v in logged.items())
                + f" ({time.perf_counter() - started:.1f} s)"
            )
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1)
    except NonFiniteLossError:
        # No summary may suggest a finished training; the checkpoint stays.
        Path(live.metrics_file).unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    live.end()
    return model.cpu()


def load_model(path: str | Path) -> ASRModel:
    """Rebuild a model saved by train_asr (safe loading)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no trained model (run train_asr)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        return ASRModel.from_checkpoint(checkpoint)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a model saved by train_asr ({exc})") from None


def evaluate(
    model: ASRModel, split: SpeechSplit, config: ASREvalConfig, progress: bool = True
) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """Test metrics and (id, reference, hypothesis) transcripts of a split."""
    if split.n_mels != model.dims.n_mels:
        raise DataError(
            f"{split.path}: {split.n_mels} mel bands, the model takes "
            f"{model.dims.n_mels}"
        )
    device = pick_device(config.device)
    model = model.to(device)
    batch_size = config.eval_batch_size
    loss = evaluate_loss(model, split, batch_size, device, config.label_smoothing)
    hyps = transcribe(model, split, batch_size, device, progress=progress)
    refs = [split.tokens(i).tolist() for i in range(len(split))]
    metrics: dict[str, Any] = {"loss": loss, **asr_metrics(refs, hyps)}
    metrics.update(
        n_params=model.n_params(),
        decoder=model.dims.decoder,
        attention=model.dims.attention,
        cross_attention=model.dims.cross_attention,
    )
    rows = [
        (split.ids[i], decode(r), decode(h))
        for i, (r, h) in enumerate(zip(refs, hyps, strict=True))
    ]
    return metrics, rows


def transcripts_tsv(rows: list[tuple[str, str, str]]) -> str:
    """The transcripts file: a header, then id, reference, hypothesis per line."""
    lines = ["id\treference\thypothesis"] + ["\t".join(row) for row in rows]
    return "\n".join(lines) + "\n"

"""Training of the speech recogniser (study 3); hw2.asr.evaluate scores it.

Teacher forcing, cross-entropy with label smoothing (PAD ignored), AdamW, a linear
warm-up from 1% of the learning rate over the first `warmup` fraction of the steps,
then a linear decay to 1%. A checkpoint after every epoch holds the model,
optimizer, scheduler, RNG states and the metric history, so a killed run resumes at
the next epoch and ends exactly as an uninterrupted one would; it is only resumed by
the same params, data and code (the hw2 sources this module imports, directly or
not), else discarded with a one-line notice.
"""

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hw2.asr import distributed
from hw2.asr.audio import MIN_FRAMES
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
from hw2.asr.text import PAD
from hw2.core.device import (
    DEVICES,
    pick_device,
    rng_state,
    seed_everything,
    set_rng_state,
)
from hw2.core.errors import DataError, NonFiniteLossError, ParamError
from hw2.core.failpoints import failpoint
from hw2.core.io import load_torch, save_torch
from hw2.core.params import DATA_SOURCES, Params
from hw2.core.progress import tqdm
from hw2.core.provenance import code_digest

LR_FLOOR = 0.01  # the schedule starts and ends at 1% of the peak learning rate


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
        max_frames = p.integer("asr.max_frames", low=MIN_FRAMES)
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


def _batches(
    split: SpeechSplit,
    batch_size: int,
    device: torch.device,
    *,
    shuffle: bool = False,
    seed: int = 0,
    epoch: int = 0,
    limit: int | None = None,
    ctx: distributed.Context | None = None,
) -> torch.utils.data.DataLoader:
    """The one place batches are made: length-bucketed (LengthBucketSampler),
    shuffled per (seed, epoch) for training, sorted by length otherwise; the
    first `limit` clips only if given; this rank's share of each batch under
    torchrun (ctx); pinned memory when they go to a GPU."""
    lengths = split.n_frames if limit is None else split.n_frames[:limit]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    return torch.utils.data.DataLoader(
        SpeechDataset(split),
        batch_sampler=sampler if ctx is None else distributed.shard(sampler, ctx),
        collate_fn=collate,
        pin_memory=device.type == "cuda",
    )


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def _check_finite(loss: torch.Tensor, where: str) -> None:
    if not torch.isfinite(loss):
        raise NonFiniteLossError(
            f"the ASR loss became {loss.item()} {where}; "
            "check the features for NaN/inf values or lower asr.lr"
        )


def check_split(split: SpeechSplit, dims: ModelDimensions, name: str) -> None:
    """DataError unless the split has clips, the model's mel bands, and no clip
    longer than the model's audio positions (asr.max_frames)."""
    if len(split) == 0:
        raise DataError(f"{split.path}: the {name} split has 0 clips")
    if split.n_mels != dims.n_mels:
        raise DataError(
            f"{split.path}: {split.n_mels} mel bands, the model takes {dims.n_mels}"
        )
    longest = int(split.n_frames.max())
    if conv_out_length(longest) > dims.n_audio_ctx:
        raise DataError(
            f"{split.path}: a clip of {longest} frames is longer than asr.max_frames "
            "allows (rerun preprocess_speech with the same asr.max_frames)"
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
    for batch in _batches(split, batch_size, device):
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
    out: list[list[int]] = [[] for _ in range(n)]
    model.eval()
    batches = _batches(split, batch_size, device, limit=n)
    for batch in tqdm(batches, desc="decoding", unit="batch", disable=not progress):
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


@dataclass
class _Run:
    """A training run's state: what a checkpoint saves and a resume restores."""

    config: ASRConfig
    device: torch.device
    steps_per_epoch: int
    fingerprint: str  # params and data
    code: str  # the source of this module's import closure
    ctx: distributed.Context  # torchrun's rank and world (one process: rank 0 of 1)
    model: ASRModel = field(init=False)
    net: torch.nn.Module = field(init=False)  # what steps call: DDP(model) or model
    optimizer: torch.optim.Optimizer = field(init=False)
    scheduler: torch.optim.lr_scheduler.LambdaLR = field(init=False)
    epoch: int = field(init=False)  # epochs done
    history: list[dict[str, float]] = field(init=False)

    def __post_init__(self) -> None:
        self.start_afresh()

    def start_afresh(self) -> None:
        """Seeded model, optimizer and learning-rate schedule, no epoch done."""
        config = self.config
        seed_everything(config.seed)
        self.model = ASRModel(config.dims).to(self.device)
        self.net = self.model  # wrapped by distributed.wrap once resumed or not
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr)
        total_steps = config.epochs * self.steps_per_epoch

        def lr_factor(step: int) -> float:
            return get_lr(
                step, base_lr=1.0, total_steps=total_steps, warmup=config.warmup
            )

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor)
        self.epoch, self.history = 0, []

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to go on after `epoch` as if never stopped."""
        return {
            "fingerprint": self.fingerprint,
            "code": self.code,
            "epoch": self.epoch,
            "history": self.history,
            "model_state_dict": self.model.state_dict(),
            "optimizer_state_dict": self.optimizer.state_dict(),
            "scheduler_state_dict": self.scheduler.state_dict(),
            "rng": rng_state(),
        }


def _setup(config: ASRConfig, train_split: SpeechSplit, val_split: SpeechSplit) -> _Run:
    """A fresh run on the configured device (this rank's, under torchrun)."""
    ctx = distributed.context()
    device = pick_device(config.device)
    distributed.check_world(config.batch_size, ctx.world, device, ctx.local_world)
    device = distributed.setup(ctx, device)
    return _Run(
        config=config,
        device=device,
        steps_per_epoch=len(_batches(train_split, config.batch_size, device)),
        fingerprint=_fingerprint(config, train_split, val_split),
        code=code_digest(__name__),
        ctx=ctx,
    )


def _resume(run: _Run, path: Path) -> bool:
    """Restore `run` from the checkpoint at `path` if it was made by this code,
    params and data; otherwise say in one line why it is not used."""
    if not path.is_file():
        return False
    try:
        checkpoint = load_torch(path, made_by="train_asr")
    except DataError as exc:
        tqdm.write(f"train_asr: ignoring checkpoint: {exc}")
        return False
    why = None
    if not isinstance(checkpoint, dict) or checkpoint.get("fingerprint") != (
        run.fingerprint
    ):
        why = "it was made with other params or data"
    elif checkpoint.get("code") != run.code:
        why = "it was made by other code (the hw2 sources it depends on changed)"
    else:
        try:
            run.model.load_state_dict(checkpoint["model_state_dict"])
            run.optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
            run.scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
            set_rng_state(checkpoint["rng"])
            run.epoch, run.history = checkpoint["epoch"], checkpoint["history"]
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            reason = str(exc).strip().splitlines()[0][:100] if str(exc) else ""
            why = f"its state does not fit the model ({type(exc).__name__}: {reason})"
            run.start_afresh()  # part of the state may have been loaded
    if why is not None:
        if run.ctx.main:
            tqdm.write(f"train_asr: ignoring checkpoint {path}: {why}; starting afresh")
        return False
    if run.ctx.main:
        tqdm.write(
            f"train_asr: resuming after epoch {run.epoch} of {run.config.epochs}"
        )
    return True


class _Log:
    """Per-epoch metrics to dvclive (in live_dir) and one line per epoch."""

    def __init__(self, live_dir: str | Path, history: list[dict[str, float]]):
        from dvclive import Live  # imported here: it is slow, and params come first

        self.live = Live(
            dir=str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None
        )
        # Replay the logged epochs: a resumed run's logs equal an uninterrupted one's.
        for logged in history:
            self._log(logged)

    def _log(self, logged: dict[str, float]) -> None:
        for name, value in logged.items():
            self.live.log_metric(name, value)
        self.live.next_step()

    def epoch(self, epoch: int, of: int, logged: dict[str, float], seconds: float):
        """Log one finished epoch."""
        self._log(logged)
        tqdm.write(
            f"epoch {epoch}/{of}: "
            + " ".join(f"{k} {v:.4f}" for k, v in logged.items())
            + f" ({seconds:.1f} s)"
        )

    def failed(self) -> None:
        """No summary may suggest a finished training (the checkpoint stays)."""
        Path(self.live.metrics_file).unlink(missing_ok=True)

    def end(self) -> None:
        """Write the summary."""
        self.live.end()


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


def _train_epoch(run: _Run, train_split: SpeechSplit, bar: tqdm) -> float:
    """One pass over the training batches of epoch run.epoch; the mean token loss
    (over every rank's batches under torchrun)."""
    config, device, ctx = run.config, run.device, run.ctx
    run.model.train()
    total, count = 0.0, 0
    batches = _batches(
        train_split,
        config.batch_size,
        device,
        shuffle=True,
        seed=config.seed,
        epoch=run.epoch,
        ctx=ctx,
    )
    for step, batch in enumerate(batches):
        batch = batch.to(device)
        with _autocast(device):
            loss, n = token_loss(run.net, batch, config.label_smoothing)
        # [distributed] scaled so that DDP's gradient mean is the global batch's
        step_loss, n = distributed.global_loss(
            loss, n, step, batches.batch_sampler, ctx
        )
        _check_finite(step_loss, f"at epoch {run.epoch + 1}, step {step + 1}")
        run.optimizer.zero_grad(set_to_none=True)
        step_loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        total += loss.item() * n
        count += n
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        failpoint("train_step")
    total, count = distributed.sums([total, count], ctx, device)
    return total / count


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
    check_split(train_split, config.dims, "train")
    check_split(val_split, config.dims, "validation")
    checkpoint_path = Path(checkpoint_path)
    run = _setup(config, train_split, val_split)
    _resume(run, checkpoint_path)
    run.net = distributed.wrap(run.model, run.ctx, run.device)
    # [distributed] rank 0 alone validates, logs and checkpoints
    log = _Log(live_dir, run.history) if run.ctx.main else None
    bar = tqdm(
        total=config.epochs * run.steps_per_epoch,
        initial=run.epoch * run.steps_per_epoch,
        unit="step",
        disable=not progress or not run.ctx.main,
        dynamic_ncols=True,
    )
    try:
        while run.epoch < config.epochs:
            bar.set_description(f"epoch {run.epoch + 1}/{config.epochs}")
            started = time.perf_counter()
            logged = {"train/loss": _train_epoch(run, train_split, bar)}
            if log is not None:
                logged.update(_validate(run.model, val_split, config, run.device))
                run.history.append(logged)
            run.epoch += 1
            if log is not None:
                save_torch(checkpoint_path, run.checkpoint())
                failpoint("train_epoch")
                log.epoch(
                    run.epoch, config.epochs, logged, time.perf_counter() - started
                )
            distributed.barrier(run.ctx)
            if on_epoch_end is not None:
                on_epoch_end(run.epoch)
    except NonFiniteLossError:
        if log is not None:
            log.failed()
        raise
    finally:
        bar.close()
    if log is not None:
        log.end()
    distributed.teardown(run.ctx)
    return run.model.cpu()

"""Training of the speech recogniser (study 3); hw2.asr.evaluate scores it.

Teacher forcing, cross-entropy with label smoothing (PAD ignored), AdamW and a
warm-up/decay schedule (hw2.asr.step), batches of similar-length clips
(hw2.asr.batching), a checkpoint after every epoch that a killed run resumes from
(hw2.asr.checkpoint), curves to dvclive. Under torchrun every process trains on
its share of each batch through DistributedDataParallel (hw2.asr.distributed);
the first alone validates, checkpoints and logs.
"""

import time
from pathlib import Path

import numpy as np
import torch

from hw2.asr import distributed
from hw2.asr.batching import LengthBucketSampler, SpeechDataset, loader
from hw2.asr.checkpoint import Checkpoint, fingerprint
from hw2.asr.config import ASRConfig
from hw2.asr.metrics import SIMILARITIES, asr_metrics
from hw2.asr.model import ASRModel
from hw2.asr.scoring import check_split, evaluate_loss, transcribe
from hw2.asr.step import start, train_step
from hw2.core.device import cpu_threads, pick_device
from hw2.core.failpoints import failpoint
from hw2.core.live import EpochLog
from hw2.core.progress import tqdm
from hw2.core.provenance import code_digest
from hw2.speech.features import SpeechSplit


def validate(
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
) -> ASRModel:
    """Train (or resume training) and return the model, on the CPU.

    Logs train/loss, val/loss, val/similarity and val/cer per epoch to dvclive in
    live_dir and checkpoints every epoch to checkpoint_path. A non-finite loss
    raises NonFiniteLossError, and no dvclive summary is left. Runs on
    config.threads CPU threads in each process, whatever OMP_NUM_THREADS says:
    float sums, hence the model, depend on the number.
    """
    ctx = distributed.context()  # this process's rank among torchrun's (or 0 of 1)
    with cpu_threads(config.threads, ctx.local_world):
        return _train(
            config, train_split, val_split, ctx, checkpoint_path, live_dir, progress
        )


def _train(
    config: ASRConfig,
    train_split: SpeechSplit,
    val_split: SpeechSplit,
    ctx: distributed.Context,
    checkpoint_path: str | Path,
    live_dir: str | Path,
    progress: bool,
) -> ASRModel:
    check_split(train_split, config.dims, "train")
    check_split(val_split, config.dims, "validation")
    device = distributed.setup(ctx, pick_device(config.device), config.batch_size)
    sampler = LengthBucketSampler(
        train_split.n_frames,
        config.batch_size,
        seed=config.seed,
        rank=ctx.rank,
        world=ctx.world,
    )
    batches = loader(SpeechDataset(train_split), sampler, device)
    model, optimizer, scheduler = start(config, device, steps_per_epoch=len(batches))
    checkpoint = Checkpoint(
        Path(checkpoint_path),
        fingerprint(config, train_split, val_split),
        code_digest(__name__),
    )
    done, history = checkpoint.resume(model, optimizer, scheduler, quiet=not ctx.main)
    net = distributed.wrap(model, ctx, device)  # DDP(model) under torchrun
    bar = tqdm(
        total=config.epochs * len(batches),
        initial=done * len(batches),
        unit="step",
        disable=not progress or not ctx.main,
        dynamic_ncols=True,
    )
    with bar, EpochLog(live_dir if ctx.main else None, history) as log:
        for epoch in range(done, config.epochs):
            bar.set_description(f"epoch {epoch + 1}/{config.epochs}")
            started = time.perf_counter()
            sampler.set_epoch(epoch)
            net.train()
            total, count = 0.0, 0
            for step, batch in enumerate(batches):
                loss, n_tokens = train_step(
                    net,
                    batch.to(device),
                    optimizer,
                    scheduler,
                    config,
                    ctx=ctx,
                    stand_in=sampler.stand_in(step),
                    where=f"at epoch {epoch + 1}, step {step + 1}",
                )
                total, count = total + loss * n_tokens, count + n_tokens
                bar.update()
                bar.set_postfix(loss=f"{loss:.3f}")
                failpoint("train_step")
            total, count = distributed.sums([total, count], ctx, device)
            if ctx.main:  # [DDP] the first process alone validates and writes
                logged = {"train/loss": total / count}
                logged.update(validate(model, val_split, config, device))
                history.append(logged)
                checkpoint.save(epoch + 1, history, model, optimizer, scheduler)
                failpoint("train_epoch")
                log.log(logged)
                seconds = time.perf_counter() - started
                tqdm.write(
                    f"epoch {epoch + 1}/{config.epochs}: "
                    + " ".join(f"{k} {v:.4f}" for k, v in logged.items())
                    + f" ({seconds:.1f} s)"
                )
            distributed.barrier(ctx)
    distributed.teardown(ctx)
    return model.cpu()

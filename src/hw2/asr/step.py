"""One optimisation step of the speech recogniser, and what it steps: the seeded
model, AdamW and the learning-rate schedule. train_asr and the rehearsal both
train through these.

The schedule: a linear warm-up from 1% of the learning rate over the first
`warmup` fraction of the steps, then a linear decay to 1%.
"""

from functools import partial

import torch

from hw2.asr import distributed
from hw2.asr.batching import Batch
from hw2.asr.config import ASRConfig
from hw2.asr.model import ASRModel
from hw2.asr.scoring import check_finite, token_loss
from hw2.core.device import autocast, seed_everything

LR_FLOOR = 0.01  # the schedule starts and ends at 1% of the peak learning rate


def get_lr(step: int, *, base_lr: float, total_steps: int, warmup: float) -> float:
    """Learning rate at optimizer step `step` (0-based) of `total_steps`."""
    warmup_steps = round(warmup * total_steps)
    if step < warmup_steps:
        return base_lr * (LR_FLOOR + (1 - LR_FLOOR) * step / warmup_steps)
    decay_steps = max(total_steps - 1 - warmup_steps, 1)
    done = min((step - warmup_steps) / decay_steps, 1.0)
    return base_lr * (1 - (1 - LR_FLOOR) * done)


def start(
    config: ASRConfig, device: torch.device, steps_per_epoch: int
) -> tuple[ASRModel, torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """The seeded model on `device`, its optimizer and its schedule, no step taken."""
    seed_everything(config.seed)
    model = ASRModel(config.dims).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    schedule = partial(
        get_lr,
        base_lr=1.0,  # LambdaLR multiplies config.lr by the factor
        total_steps=config.epochs * steps_per_epoch,
        warmup=config.warmup,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    return model, optimizer, scheduler


def train_step(
    net: torch.nn.Module,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: ASRConfig,
    *,
    ctx: distributed.Context = distributed.ONE_PROCESS,
    stand_in: bool = False,
    where: str = "",
) -> tuple[float, int]:
    """One optimizer step on a batch already on the model's device.

    net: the model, or DDP around it under torchrun (ctx); stand_in: this rank's
    share is a stand-in that must not count (LengthBucketSampler.stand_in).
    Returns the batch's mean token loss and its target count (0 for a stand-in);
    a non-finite loss raises NonFiniteLossError saying `where`.
    """
    with autocast(batch.mels.device, enabled=config.cpu_bf16 or None):
        loss, n_tokens = token_loss(net, batch, config.label_smoothing)
    n_tokens = 0 if stand_in else n_tokens
    # [DDP] scaled so that DDP's gradient mean is the global batch's token mean
    scaled = distributed.scale_loss(loss, n_tokens, ctx)
    check_finite(scaled, where)
    optimizer.zero_grad(set_to_none=True)
    scaled.backward()
    optimizer.step()
    scheduler.step()
    return loss.item(), n_tokens

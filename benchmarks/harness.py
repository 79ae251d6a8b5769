"""What the benchmark scripts share: their command line (--device, --threads),
timing, and the ASR training step they time, which is the pipeline's own."""

import argparse
from collections.abc import Callable

import torch
from metering import timed

from hw2.asr.batching import Batch
from hw2.asr.config import ASRConfig
from hw2.asr.model import ASRModel, ModelDimensions
from hw2.asr.step import start, train_step

__all__ = ["asr_trainer", "parser", "setup", "timed"]


def parser(doc: str) -> argparse.ArgumentParser:
    """A command line described by the first line of `doc`, with --device and
    --threads; add the benchmark's own arguments to it."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads (0: torch's default; on a shared machine 1 avoids "
        "waiting on descheduled workers)",
    )
    return p


def setup(args: argparse.Namespace) -> torch.device:
    """Apply --threads and return the --device."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return torch.device(args.device)


def asr_trainer(
    dims: ModelDimensions,
    device: torch.device,
    weights: dict[str, torch.Tensor] | None = None,
) -> tuple[ASRModel, Callable[[Batch], float]]:
    """A model of `dims` on `device` (from `weights` if given) and a function
    that trains it on one batch as train_asr does (hw2.asr.step.train_step)."""
    config = ASRConfig(dims=dims)
    model, optimizer, scheduler = start(config, device, steps_per_epoch=1000)
    if weights is not None:
        model.load_state_dict(weights)

    def step(batch: Batch) -> float:
        loss, _ = train_step(model, batch, optimizer, scheduler, config)
        return loss

    return model, step

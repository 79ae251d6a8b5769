"""Several processes train one ASR: DistributedDataParallel under torchrun.

One process per GPU (nccl) or per CPU worker (gloo). The bucketing sampler's
global batches, `asr.batch_size` clips each, are cut into one interleaved share
per rank (hw2.asr.batching; each share holds similar lengths), and each rank's
loss is scaled
so that DDP's averaged gradient equals the single-process gradient of the whole
batch (a token-weighted mean): the same params train the same model, up to the
order of floating-point sums, whatever the number of processes. Rank 0 alone
validates, logs, checkpoints and saves.

The number of processes is the machine's business, not the experiment's, so it is
no param (a param would change train_asr's cache key and rerun it on a machine
with more GPUs): `HW2_NPROC=4 dvc repro` relaunches the stage under torchrun.
"""

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist

from hw2.core.errors import Hw2Error, ParamError
from hw2.core.params import short

ENV_NPROC = "HW2_NPROC"


@dataclass(frozen=True)
class Context:
    """This process's place among the training processes (torchrun's variables)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes (logs, checkpoints, the model)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether there are other processes to synchronise with."""
        return self.world > 1


ONE_PROCESS = Context()


def context(environ: Mapping[str, str] = os.environ) -> Context:
    """The Context torchrun's environment describes (a single process without it)."""
    if "WORLD_SIZE" not in environ:
        return ONE_PROCESS
    return Context(
        rank=int(environ["RANK"]),
        world=int(environ["WORLD_SIZE"]),
        local_rank=int(environ.get("LOCAL_RANK", 0)),
        local_world=int(environ.get("LOCAL_WORLD_SIZE", environ["WORLD_SIZE"])),
    )


def requested_processes(environ: Mapping[str, str] = os.environ) -> int:
    """HW2_NPROC, the processes to train with on this machine (default 1)."""
    raw = environ.get(ENV_NPROC, "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise ParamError(
            f"{ENV_NPROC} must be a whole number of processes, got {short(raw)}"
        )
    return int(raw)


def check_world(
    batch_size: int, world: int, device: torch.device, local_world: int | None = None
) -> None:
    """One-line errors before any work: batch not divisible, too few GPUs."""
    if batch_size % world:
        raise ParamError(
            f"asr.batch_size {batch_size} cannot be shared by {world} processes "
            f"(it must be a multiple of the process count; {ENV_NPROC} or "
            "torchrun --nproc_per_node)"
        )
    local_world = world if local_world is None else local_world
    if device.type == "cuda" and local_world > torch.cuda.device_count():
        raise Hw2Error(
            f"{local_world} training processes need {local_world} GPUs, this "
            f"machine has {torch.cuda.device_count()}"
        )


def relaunch(script: str, argv: Sequence[str], nproc: int) -> NoReturn:
    """Run `script argv` again as nproc torchrun workers; exit with their status."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={nproc}", script, *argv]
    sys.exit(subprocess.run(cmd).returncode)


def setup(ctx: Context, device: torch.device, batch_size: int) -> torch.device:
    """Check that the processes can share a batch, then join the process group
    (nccl on GPUs, gloo on the CPU); this rank's device."""
    check_world(batch_size, ctx.world, device, ctx.local_world)
    if not ctx.active:
        return device
    if device.type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
        device = torch.device("cuda", ctx.local_rank)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend, device_id=device if backend == "nccl" else None
        )
    return device


def teardown(ctx: Context) -> None:
    """Leave the process group (after every rank is done)."""
    if ctx.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, ctx: Context, device: torch.device):
    """The module the training steps call: DDP around `model` when distributed."""
    if not ctx.active:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def scale_loss(loss: torch.Tensor, n_tokens: int, ctx: Context) -> torch.Tensor:
    """The loss to backpropagate: scaled so that DDP's gradient average equals the
    gradient of the token-weighted mean over the whole global batch.

    A non-finite loss on any rank makes every rank's NaN: all stop together.
    """
    if not ctx.active:
        return loss
    flags = torch.tensor(
        [float(n_tokens), float(not torch.isfinite(loss))], device=loss.device
    )
    dist.all_reduce(flags)
    total, bad = flags.tolist()
    if bad:
        return loss * float("nan")
    return loss * (n_tokens * ctx.world / total)


def sums(values: Sequence[float], ctx: Context, device: torch.device) -> list[float]:
    """Element-wise sums of `values` over the ranks (the epoch's loss totals)."""
    if not ctx.active:
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier(ctx: Context) -> None:
    """Wait for every rank (while rank 0 validates and checkpoints)."""
    if ctx.active:
        dist.barrier()

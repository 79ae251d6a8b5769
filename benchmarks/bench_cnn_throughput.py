"""CNN training throughput at batch 8: the pipeline's loop vs a plain DataLoader loop.

The pipeline's single-network loop (hw2.oct.train.train_epoch, the lone run each
stacked seed reproduces; benchmarks/bench_cnn_seeds.py times the stacking). Both
train the same network with the same SGD settings on OCTMNIST-sized data
(97,477 generated images). Rounds alternate between the contenders so that load
from other processes hits both alike; the median images/s of each is reported,
and the ratio. A per-operator profile of one training step follows.

    python benchmarks/bench_cnn_throughput.py [--steps 1500] [--rounds 3]
"""

import argparse
import statistics
import time

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from hw2.core.device import cpu_threads
from hw2.images import phantoms
from hw2.oct.model import CNNDimensions, OCTNet
from hw2.oct.train import to_tensor, train_epoch

N_IMAGES = 97_477
BATCH = 8


def plain_loop(model, optimizer, x, y, steps: int) -> None:
    """The textbook loop: DataLoader(TensorDataset), shuffle, batch 8."""
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    model.train()
    for i, (xb, yb) in enumerate(loader):
        if i == steps:
            break
        optimizer.zero_grad()
        loss = F.nll_loss(model(xb), yb)
        loss.backward()
        optimizer.step()


def plain_loop_1thread(model, optimizer, x, y, steps: int) -> None:
    """The same plain loop on one intra-op thread, to separate the two effects."""
    with cpu_threads():
        plain_loop(model, optimizer, x, y, steps)


def pipeline_loop(model, optimizer, x, y, steps: int) -> None:
    """hw2.oct.train.train_epoch on the first steps * 8 images of a shuffled set."""
    n = steps * BATCH
    with cpu_threads():
        train_epoch(model, optimizer, x[:n], y[:n], BATCH, torch.Generator())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=N_IMAGES)
    args = ap.parse_args()

    t0 = time.perf_counter()
    images, labels = phantoms.make_split(args.images, np.random.default_rng(0))
    print(f"generated {len(images)} images in {time.perf_counter() - t0:.1f} s")
    x, y = to_tensor(images), torch.from_numpy(labels.reshape(-1).astype(np.int64))
    torch.manual_seed(0)
    model = OCTNet(CNNDimensions())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loops = {
        "plain DataLoader": plain_loop,
        "plain DataLoader, 1 thread": plain_loop_1thread,
        "pipeline": pipeline_loop,
    }
    rates: dict[str, list[float]] = {k: [] for k in loops}
    for loop in loops.values():  # warm-up
        loop(model, optimizer, x, y, 50)
    for r in range(args.rounds):
        for name, loop in loops.items():
            t = time.perf_counter()
            loop(model, optimizer, x, y, args.steps)
            rates[name].append(args.steps * BATCH / (time.perf_counter() - t))
        print(
            f"round {r + 1}: "
            + ", ".join(f"{k} {v[-1]:.0f} img/s" for k, v in rates.items())
        )
    med = {k: statistics.median(v) for k, v in rates.items()}
    base = med["plain DataLoader"]
    print(f"median images/s (default torch threads: {torch.get_num_threads()}):")
    for name, rate in med.items():
        print(f"  {name:28s} {rate:8.0f}   {rate / base:5.2f}x the plain loop")

    from torch.profiler import ProfilerActivity, profile

    xb, yb = x[:BATCH], y[:BATCH]
    with cpu_threads(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(200):
            optimizer.zero_grad(set_to_none=True)
            F.nll_loss(model(xb), yb).backward()
            optimizer.step()
    print("profile of 200 pipeline steps (batch 8):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()

"""N CNN seeds at batch 8: stacked in one network vs N lone runs one after another.

Both contenders train the same N seeds for the same number of steps (each seed
with its own shuffle and dropout, as the pipeline does) on one intra-op thread.
Rounds alternate so that load from other processes hits both alike; the median
time of each is reported, and the ratio. A per-operator profile of one stacked
step follows (--profile).

    python benchmarks/bench_cnn_seeds.py [--seeds 5] [--steps 300] [--rounds 3]
"""

import argparse
import statistics
import time

import numpy as np
import torch

from hw2.core.device import cpu_threads
from hw2.images import phantoms
from hw2.oct.model import CNNDimensions, OCTNet
from hw2.oct.stacked import StackedOCTNet, stacked_nll
from hw2.oct.train import stacked_epoch, to_tensor, train_epoch

BATCH = 8


def sequential(seeds: list[int], x, y, steps: int, maxpool: bool) -> None:
    """N lone runs (OCTNet, the single-model epoch), one seed after another."""
    n = steps * BATCH
    for seed in seeds:
        torch.manual_seed(seed)
        model = OCTNet(CNNDimensions(maxpool=maxpool))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        train_epoch(
            model, opt, x[:n], y[:n], BATCH, torch.Generator().manual_seed(seed)
        )


def stacked(seeds: list[int], x, y, steps: int, maxpool: bool) -> None:
    """The N seeds as one StackedOCTNet, trained by the pipeline's stacked epoch."""
    n = steps * BATCH
    models, gens = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(OCTNet(CNNDimensions(maxpool=maxpool)))
        gens.append(torch.Generator().set_state(torch.get_rng_state()))
    net = StackedOCTNet(models, gens)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    shuffles = [torch.Generator().manual_seed(s) for s in seeds]
    stacked_epoch(net, opt, x[:n], y[:n], BATCH, shuffles)


def profile(seeds: list[int], x, y, maxpool: bool) -> None:
    """Operator table of 50 stacked steps."""
    models = [OCTNet(CNNDimensions(maxpool=maxpool)) for _ in seeds]
    net = StackedOCTNet(models, [torch.Generator() for _ in seeds])
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    idx = torch.randint(0, len(x), (len(seeds), BATCH))
    with torch.profiler.profile() as prof:
        for _ in range(50):
            loss, _ = stacked_nll(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-maxpool", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    maxpool = not args.no_maxpool
    images, labels = phantoms.make_split(args.steps * BATCH, np.random.default_rng(0))
    x, y = to_tensor(images), torch.from_numpy(labels.reshape(-1).astype(np.int64))
    seeds = list(range(42, 42 + args.seeds))
    contenders = {f"{args.seeds} lone runs": sequential, "stacked": stacked}
    times: dict[str, list[float]] = {k: [] for k in contenders}
    with cpu_threads(1):
        for run in contenders.values():  # warm-up
            run(seeds, x, y, 20, maxpool)
        for _ in range(args.rounds):
            for name, run in contenders.items():
                t = time.perf_counter()
                run(seeds, x, y, args.steps, maxpool)
                times[name].append(time.perf_counter() - t)
        if args.profile:
            profile(seeds, x, y, maxpool)
    per = {k: statistics.median(v) for k, v in times.items()}
    for name, t in per.items():
        rate = args.seeds * args.steps * BATCH / t
        print(f"{name:>14}: {t:6.2f} s median of {args.rounds} ({rate:,.0f} img/s)")
    lone, stack = per[f"{args.seeds} lone runs"], per["stacked"]
    print(
        f"stacked / lone: {lone / stack:.2f}x faster "
        f"({args.seeds} seeds, {args.steps} steps at batch {BATCH}, 1 thread, "
        f"maxpool={maxpool}, torch {torch.__version__})"
    )


if __name__ == "__main__":
    main()

"""ASR training step on the CPU: float32 against bf16 autocast (and torch.compile).

Trains the homework's Transformer on real batches of a preprocessed split (the
pipeline's own sampler and train_step), each variant from the same weights, in
interleaved rounds so that a change in the machine's load hits every variant
alike. Prints each variant's seconds per epoch-equivalent and its ratio to float32.
bf16 pays on CPUs with bf16 instructions (AVX512-BF16, AMX); elsewhere it is
emulated and slower.

    python benchmarks/bench_asr_step.py data/features/train [--batches 24]
        [--rounds 3] [--batch-size 8] [--threads 2] [--compile] [--only bf16] [--json]
"""

import json
from dataclasses import replace

import numpy as np
import torch
from harness import parser, setup, timed

from hw2.asr.batching import LengthBucketSampler, SpeechDataset, loader
from hw2.asr.config import ASRConfig
from hw2.asr.model import ModelDimensions
from hw2.asr.step import start, train_step
from hw2.speech.features import SpeechSplit


def main() -> None:
    p = parser(__doc__)
    p.add_argument("split", help="a preprocessed split, e.g. data/features/train")
    p.add_argument("--batches", type=int, default=24)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--decoder", default="transformer")
    p.add_argument("--compile", action="store_true", help="also torch.compile")
    p.add_argument("--only", choices=("float32", "bf16"), help="time one variant")
    p.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = p.parse_args()
    device = setup(args)
    split = SpeechSplit(args.split)
    sampler = LengthBucketSampler(split.n_frames, args.batch_size, seed=0)
    all_batches = sampler.batches()
    # batches at evenly spaced places of the epoch: its mix of lengths
    every = max(len(all_batches) // args.batches, 1)
    sampler.batches = lambda: all_batches[::every][: args.batches]
    batches = [b.to(device) for b in loader(SpeechDataset(split), sampler, device)]
    scale = len(all_batches) / len(batches)

    base = ASRConfig(dims=ModelDimensions(decoder=args.decoder), batch_size=8)
    variants = {"float32": replace(base, cpu_bf16=False), "bf16": base}
    if args.only:
        variants = {args.only: variants[args.only]}
    trainers = {}
    for name, config in variants.items():
        model, optimizer, scheduler = start(config, device, len(all_batches))
        trainers[name] = (model, optimizer, scheduler, config)
    if args.compile:
        model, optimizer, scheduler, config = trainers["bf16"]
        compiled = torch.compile(model, dynamic=True)
        trainers["bf16+compile"] = (compiled, optimizer, scheduler, config)
        warm, _ = timed(
            device,
            lambda: train_step(compiled, batches[0], *trainers["bf16+compile"][1:]),
        )
        print(f"torch.compile warm-up: {warm:.1f} s")

    def epoch(name: str) -> float:
        net, optimizer, scheduler, config = trainers[name]
        return sum(train_step(net, b, optimizer, scheduler, config)[0] for b in batches)

    for name in trainers:  # warm-up: allocator, oneDNN primitives
        epoch(name)
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(args.rounds):
        for name in trainers:
            seconds[name].append(timed(device, epoch, name)[0] * scale)
    medians = {name: float(np.median(v)) for name, v in seconds.items()}
    if args.json:
        print(json.dumps({"seconds_per_epoch": medians, "threads": args.threads}))
        return
    ref = medians.get("float32", next(iter(medians.values())))
    print(
        f"{len(batches)} of {len(all_batches)} batches of {args.batch_size}, "
        f"{torch.get_num_threads()} threads; seconds per epoch (median of "
        f"{args.rounds} rounds):"
    )
    for name, med in medians.items():
        print(f"  {name:>14}: {med:7.1f} s  ({ref / med:.2f}x float32)")


if __name__ == "__main__":
    main()

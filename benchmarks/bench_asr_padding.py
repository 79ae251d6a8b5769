"""Training throughput: length-bucketed dynamic padding vs padding to 2,754 frames.

Clip lengths are drawn like LJ Speech's (uniformly 1-10 s, frames = 22050·s/160),
bucketed by the pipeline's sampler into batches of `--batch-size`; a few batches at
evenly spaced quantiles of their padded length stand for the epoch. Each is trained
on (forward, backward, AdamW step) with the homework's model twice, side by side:
padded to its own longest clip with masks, and padded to 2,754 frames. Prints
utterances per second of both and their ratio.

    python benchmarks/bench_asr_padding.py [--batch-size 16] [--steps 3]
"""

import numpy as np
import torch
from harness import asr_trainer, parser, setup, timed

from hw2.asr.batching import Batch, LengthBucketSampler
from hw2.asr.model import ModelDimensions
from hw2.speech.audio import MAX_FRAMES
from hw2.speech.text import MAX_TOKENS, PAD, VOCAB_SIZE

SAMPLE_RATE, HOP = 22050, 160
CHARS_PER_SECOND = 15  # LJ Speech: about 100 characters in 6.6 s


def lj_like_clips(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Frames and token counts of n clips of 1-10 s."""
    seconds = rng.uniform(1, 10, n)
    frames = (SAMPLE_RATE * seconds / HOP).astype(int)
    tokens = np.minimum(2 + np.round(CHARS_PER_SECOND * seconds), MAX_TOKENS).astype(
        int
    )
    return frames, tokens


def bucketed_batches(
    frames: np.ndarray, batch_size: int, steps: int
) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """An epoch's bucketed batches shortest first, their padded lengths, and
    `steps` of them at evenly spaced quantiles of that length."""
    batches = LengthBucketSampler(frames, batch_size, seed=0).batches()
    padded_len = np.array([frames[b].max() for b in batches])
    ordered = [batches[i] for i in np.argsort(padded_len)]
    picks = [ordered[int((i + 0.5) / steps * len(ordered))] for i in range(steps)]
    return ordered, padded_len, picks


def make_batch(frames, tokens, pad_to, rng, device) -> Batch:
    """Random mels (B, 80, pad_to) zero past each clip, PAD-padded random tokens."""
    B = len(frames)
    mels = torch.zeros(B, 80, pad_to)
    toks = torch.full((B, int(tokens.max())), PAD, dtype=torch.long)
    for i, (f, t) in enumerate(zip(frames, tokens, strict=True)):
        mels[i, :, :f] = torch.from_numpy(
            rng.standard_normal((80, f), dtype=np.float32)
        )
        toks[i, :t] = torch.from_numpy(rng.integers(4, VOCAB_SIZE, t))
    n_frames, n_tokens = torch.as_tensor(frames), torch.as_tensor(tokens)
    return Batch(mels, n_frames, toks, n_tokens, torch.arange(B)).to(device)


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--batch-size", type=int, default=16)
    cli.add_argument("--steps", type=int, default=3, help="timed batches per mode")
    cli.add_argument(
        "--decoder", default="transformer", choices=["transformer", "lstm"]
    )
    args = cli.parse_args()
    device = setup(args)
    rng = np.random.default_rng(0)

    frames, tokens = lj_like_clips(9825, rng)  # one LJ Speech training epoch
    _, padded_len, picks = bucketed_batches(frames, args.batch_size, args.steps)
    print(
        f"epoch of {len(frames)} clips, batch {args.batch_size}: mean clip "
        f"{frames.mean():.0f} frames, mean bucketed batch padded to "
        f"{padded_len.mean():.0f}, fixed padding {MAX_FRAMES} "
        f"({MAX_FRAMES / padded_len.mean():.2f}x the frames)"
    )

    _, train_step = asr_trainer(ModelDimensions(decoder=args.decoder), device)
    modes = {"dynamic": None, "fixed 2754": MAX_FRAMES}
    data = {
        name: [
            make_batch(
                frames[b], tokens[b], pad_to or int(frames[b].max()), rng, device
            )
            for b in picks
        ]
        for name, pad_to in modes.items()
    }
    for name in modes:  # warm-up: allocator, kernels
        train_step(data[name][0])
    seconds = dict.fromkeys(modes, 0.0)
    for step in range(args.steps):  # interleaved, so load changes hit both alike
        for name in modes:
            seconds[name] += timed(device, train_step, data[name][step])[0]
    rate = {name: args.steps * args.batch_size / s for name, s in seconds.items()}
    for name in modes:
        print(f"{name:>11}: {rate[name]:7.2f} utterances/s ({seconds[name]:.1f} s)")
    print(
        f"dynamic padding + masks vs fixed {MAX_FRAMES} frames: "
        f"{rate['dynamic'] / rate['fixed 2754']:.2f}x "
        f"({args.decoder} decoder, {torch.get_num_threads()} threads, {device})"
    )


if __name__ == "__main__":
    main()

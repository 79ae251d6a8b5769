"""Greedy decoding: key/value cache vs recomputing the whole prefix each step.

16 utterances of 1-10 s (LJ Speech-like), the homework's transformer decoder,
always 99 tokens (no early stop), timed side by side in one run. The encoder runs
once per decode in both modes, so the decoder-only ratio is printed as well.

    python benchmarks/bench_decoding.py [--utterances 16] [--repeats 2]
"""

import argparse
import time

import numpy as np
import torch

from hw2.asr.decoding import greedy_decode
from hw2.asr.model import ASRModel, ModelDimensions
from hw2.asr.text import MAX_TOKENS

SAMPLE_RATE, HOP = 22050, 160


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: torch's default)"
    )
    args = parser.parse_args()
    if args.threads:
        # On a shared machine one thread avoids waiting on descheduled workers.
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    frames = (SAMPLE_RATE * rng.uniform(1, 10, args.utterances) / HOP).astype(int)
    n_frames = torch.as_tensor(frames, device=device)
    mels = torch.randn(args.utterances, 80, int(frames.max()), device=device)
    model = ASRModel(ModelDimensions(decoder="transformer")).to(device).eval()

    def timed(fn) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    def decode(use_cache: bool) -> torch.Tensor:
        return greedy_decode(
            model,
            mels,
            n_frames,
            max_tokens=MAX_TOKENS,
            use_cache=use_cache,
            stop_early=False,
        )

    with torch.no_grad():
        assert torch.equal(decode(True), decode(False))  # also the warm-up
        best = {"encoder": [], "cached": [], "recomputed": []}
        for _ in range(args.repeats):  # interleaved; best of the repeats
            best["encoder"].append(timed(lambda: model.encoder(mels, n_frames)))
            best["cached"].append(timed(lambda: decode(True)))
            best["recomputed"].append(timed(lambda: decode(False)))
    enc, cached, full = (min(best[k]) for k in ("encoder", "cached", "recomputed"))
    print(
        f"{args.utterances} utterances x {MAX_TOKENS} tokens, {device}, "
        f"{torch.get_num_threads()} threads (best of {args.repeats}):"
    )
    print(f"  encoder once        {enc:6.2f} s")
    print(f"  cached decoding     {cached:6.2f} s")
    print(f"  recomputed prefix   {full:6.2f} s")
    print(
        f"cached vs recomputed, end to end: {full / cached:.2f}x; "
        f"decoder steps only: {(full - enc) / max(cached - enc, 1e-9):.2f}x"
    )


if __name__ == "__main__":
    main()

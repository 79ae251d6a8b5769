"""Greedy decoding: key/value cache vs recomputing the whole prefix each step.

16 utterances of 1-10 s (LJ Speech-like), the homework's transformer decoder,
always 99 tokens (no early stop), timed side by side in one run. The encoder runs
once per decode in both modes, so the decoder-only ratio is printed as well.

    python benchmarks/bench_decoding.py [--utterances 16] [--repeats 2]
"""

import numpy as np
import torch
from harness import parser, setup, timed

from hw2.asr.decoding import greedy_decode
from hw2.asr.model import ASRModel, ModelDimensions
from hw2.speech.text import MAX_TOKENS

SAMPLE_RATE, HOP = 22050, 160


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--utterances", type=int, default=16)
    cli.add_argument("--repeats", type=int, default=2)
    args = cli.parse_args()
    device = setup(args)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    frames = (SAMPLE_RATE * rng.uniform(1, 10, args.utterances) / HOP).astype(int)
    n_frames = torch.as_tensor(frames, device=device)
    mels = torch.randn(args.utterances, 80, int(frames.max()), device=device)
    model = ASRModel(ModelDimensions(decoder="transformer")).to(device).eval()

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
            best["encoder"].append(timed(device, model.encoder, mels, n_frames)[0])
            best["cached"].append(timed(device, decode, True)[0])
            best["recomputed"].append(timed(device, decode, False)[0])
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

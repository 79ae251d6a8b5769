"""McLaurin linear attention vs scaled_dot_product_attention, side by side.

The issue's Speed check: D = 16, K = 3 (M = 153), L = 16,384, B = H = 1, forward
only, non-causal and causal. Both contenders run in the same process on the
same inputs, alternating, best of --repeats after a warm-up; peak memory is the
CPU allocator's peak during one call (output included; see
hw2.attention_bench.bench). Ratios are softmax / McLaurin, so > 1 favours McLaurin.

Runs once per thread count in --threads (default: 1, then torch's default).
On a shared machine, read the 1-thread figures: with a busy thread pool every
small op of the block loop waits for a descheduled thread, while softmax
attention is one fused op (see the report).

    python benchmarks/bench_attention.py [--length 16384] [--threads 1,2]
"""

import argparse

import torch
import torch.nn.functional as F

from hw2.attention.feature_map import feature_dim
from hw2.attention.linear import block_size
from hw2.attention.mclaurin import mclaurin_attention
from hw2.attention_bench.bench import peak_bytes, time_calls
from hw2.core.device import cpu_threads


def compare(length: int, dim: int, terms: int, repeats: int, threads: int) -> None:
    device = torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, length, dim, generator=gen) for _ in "qkv")
    with cpu_threads(threads), torch.inference_mode():
        for causal in (False, True):
            fns = {
                "softmax": lambda c=causal: F.scaled_dot_product_attention(
                    q, k, v, is_causal=c
                ),
                "mclaurin": lambda c=causal: mclaurin_attention(
                    q, k, v, terms=terms, causal=c
                ),
            }
            seconds = time_calls(fns, device, repeats)
            peaks = {name: peak_bytes(fn, device) for name, fn in fns.items()}
            label = "causal    " if causal else "non-causal"
            print(
                f"  {label}  softmax {seconds['softmax'] * 1e3:8.1f} ms "
                f"{peaks['softmax'] / 2**20:6.2f} MiB | McLaurin "
                f"{seconds['mclaurin'] * 1e3:7.1f} ms "
                f"{peaks['mclaurin'] / 2**20:6.2f} MiB | "
                f"speed x{seconds['softmax'] / seconds['mclaurin']:5.1f}, "
                f"memory x{peaks['softmax'] / peaks['mclaurin']:4.2f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--length", type=int, default=16384)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--terms", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default=f"1,{torch.get_num_threads()}")
    args = ap.parse_args()
    counts = list(dict.fromkeys(int(t) for t in args.threads.split(",")))
    m = feature_dim(args.terms, args.dim)
    print(
        f"L={args.length} D={args.dim} K={args.terms} (M={m}), B=H=1, forward, "
        f"blocks of {block_size(args.terms, args.dim, 1, False)} (causal "
        f"{block_size(args.terms, args.dim, 1, True)}) positions"
    )
    for threads in counts:
        print(f"{threads} thread(s):")
        compare(args.length, args.dim, args.terms, args.repeats, threads)


if __name__ == "__main__":
    main()

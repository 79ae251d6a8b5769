"""What pinning the CPU kernels costs: CNN training under each option, side by side.

Different x86 CPUs make torch pick different kernels (oneDNN's convolutions by
ISA, MKL's GEMMs by ISA and vendor, ATen's vectorised loops by AVX2/AVX-512), and
15 epochs of batch-8 SGD turn their last-bit differences into different networks.
Each option trains the pipeline's stacked CNN (5 seeds, batch 8, one thread) in a
fresh subprocess, since these settings are read once when the libraries start.
Rounds alternate between the options so that load hits all alike; the median
time and a hash of the weights are printed (equal hashes: identical weights).

    python benchmarks/bench_cnn_pinning.py [--steps 300] [--rounds 3]
"""

import argparse
import os
import statistics
import subprocess
import sys

CHILD = r"""
import hashlib, sys, time
import numpy as np, torch
from hw2.images.phantoms import make_dataset
from hw2.oct.train import CNNTrainConfig, train_cnn_runs
steps, mkldnn = int(sys.argv[1]), sys.argv[2] == "on"
torch.backends.mkldnn.enabled = mkldnn
d = make_dataset(steps * 8, 40, 8, seed=1)
data = {s: (d[f"{s}_images"], d[f"{s}_labels"]) for s in ("train", "val", "test")}
config = CNNTrainConfig(lr=0.05, epochs=1, seeds=5, device="cpu")
t = time.perf_counter()
runs = train_cnn_runs(config, data, progress=False)
t = time.perf_counter() - t
h = hashlib.sha256()
for r in runs:
    for v in r.model.state_dict().values():
        h.update(v.numpy().tobytes())
print(f"{t:.4f} {h.hexdigest()[:12]}")
"""

PINNED = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
}
OPTIONS = {
    "default": ({}, "on"),
    "oneDNN max ISA AVX2": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, "on"),
    "MKL_CBWR=AVX2": ({"MKL_CBWR": "AVX2"}, "on"),
    "ATen capability avx2": ({"ATEN_CPU_CAPABILITY": "avx2"}, "on"),
    "all three (the pipeline's pin)": (PINNED, "on"),
    "mkldnn off + MKL_CBWR=AVX2": ({"MKL_CBWR": "AVX2"}, "off"),
    "MKL_CBWR=COMPATIBLE, mkldnn off": ({"MKL_CBWR": "COMPATIBLE"}, "off"),
}


def run(env: dict[str, str], mkldnn: str, steps: int) -> tuple[float, str]:
    """Seconds of training and the weights' hash, in a fresh interpreter."""
    base = {k: v for k, v in os.environ.items() if k not in PINNED}
    out = (
        subprocess.run(
            [sys.executable, "-c", CHILD, str(steps), mkldnn],
            env={**base, **env, "OMP_NUM_THREADS": "1"},
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.splitlines()[-1]
        .split()
    )
    return float(out[0]), out[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    times: dict[str, list[float]] = {k: [] for k in OPTIONS}
    hashes: dict[str, set[str]] = {k: set() for k in OPTIONS}
    for _ in range(args.rounds):
        for name, (env, mkldnn) in OPTIONS.items():
            t, h = run(env, mkldnn, args.steps)
            times[name].append(t)
            hashes[name].add(h)
    base = statistics.median(times["default"])
    for name in OPTIONS:
        t = statistics.median(times[name])
        print(
            f"{name:>32}: {t:6.2f} s ({t / base:4.2f}x default), "
            f"weights {'/'.join(sorted(hashes[name]))}"
        )
    print(f"({args.steps} steps of 5 stacked seeds at batch 8, one thread each)")


if __name__ == "__main__":
    main()

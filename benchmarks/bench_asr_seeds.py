"""Several ASR seeds on one machine: side by side, one thread each, or one after
another on all the threads?

Runs benchmarks/bench_asr_step.py (bf16 training steps on real batches) as N
processes at once with one thread each, and as one process with N threads, in
alternating rounds; prints the seconds an epoch costs per seed either way and
their ratio (above 1: side by side trains more clips per second). make homework's
queue runs its seeds the first way (JOBS workers, cores // JOBS threads each).

    python benchmarks/bench_asr_seeds.py data/features/train [--processes 2]
        [--rounds 2] [--batches 24]
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from harness import parser

STEP = Path(__file__).with_name("bench_asr_step.py")


def run(split: str, threads: int, processes: int, batches: int) -> list[float]:
    """Seconds per epoch of each of `processes` concurrent runs."""
    cmd = [
        sys.executable, str(STEP), split, "--only", "bf16", "--json",
        "--threads", str(threads), "--batches", str(batches), "--rounds", "1",
    ]  # fmt: skip
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"{STEP.name} failed (exit {proc.returncode})")
        out.append(json.loads(stdout.splitlines()[-1])["seconds_per_epoch"]["bf16"])
    return out


def main() -> None:
    p = parser(__doc__)
    p.add_argument("split", help="a preprocessed split, e.g. data/features/train")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batches", type=int, default=24)
    args = p.parse_args()
    n = args.processes
    apart, together = [], []
    for _ in range(args.rounds):
        together.append(np.mean(run(args.split, 1, n, args.batches)) / n)
        apart.append(run(args.split, n, 1, args.batches)[0])
    t, a = float(np.median(together)), float(np.median(apart))
    print(f"seconds of an epoch per seed (median of {args.rounds} rounds):")
    print(f"  {n} processes x 1 thread, side by side: {t:6.1f} s")
    print(f"  1 process x {n} threads, one seed at a time: {a:6.1f} s")
    print(f"  side by side: {a / t:.2f}x the seeds per hour")


if __name__ == "__main__":
    main()

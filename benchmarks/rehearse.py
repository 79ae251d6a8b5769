"""Rehearse the full job on stand-ins at the real sizes; write per-stage costs as JSON.

    python benchmarks/rehearse.py --scale full               # everything, for real
    python benchmarks/rehearse.py --scale full --clip-fraction 0.1 --cnn-steps 2000 \\
        --asr-steps 10                                    # measure parts, project
    python benchmarks/rehearse.py --scale full --cnn-steps 1000 \\
        --asr-steps lstm=8,mclaurin=8                     # all data, one full
                                                          # Transformer epoch
    python benchmarks/rehearse.py --scale full --budget-s 3600  # the ASR runs stop
                                                          # training to fit an hour
    python benchmarks/rehearse.py --scale tiny               # seconds: a smoke test

Sizes: full = 97,477 / 10,832 / 1,000 images and 13,100 clips; tiny = a few of
each. The stages call the library directly (no dvc), so this also runs on a
machine with only torch, torchaudio, numpy, pandas, pyyaml and tqdm plus the
wheels named in benchmarks/gpu_rehearsal.sh.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from rehearsal import ASR_RUNS, FULL, TINY, RehearsalConfig, rehearse

from hw2.core.errors import Hw2Error
from hw2.core.io import write_json
from hw2.core.params import load_params


def asr_steps(text: str) -> int | dict[str, int]:
    """`8` (every run) or `lstm=8,mclaurin=8` (the others: a whole epoch)."""
    try:
        if "=" not in text:
            return int(text)
        pairs = (item.split("=", 1) for item in text.split(",") if item)
        return {run.strip(): int(n) for run, n in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--asr-steps: expected N or RUN=N,..., got {text!r}"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="eSpeak processes (default: one per CPU; the bytes are the same)",
    )
    parser.add_argument("--clip-fraction", type=float, default=1.0)
    parser.add_argument("--cnn-steps", type=int, default=None)
    parser.add_argument(
        "--asr-steps",
        type=asr_steps,
        default=None,
        help="training steps of each ASR run: N for all, or RUN=N,... "
        "(runs not named train a whole epoch); default a whole epoch each",
    )
    parser.add_argument(
        "--asr-runs",
        default=",".join(name for name, _, _ in ASR_RUNS),
        help="comma-separated subset of " + ", ".join(n for n, _, _ in ASR_RUNS),
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="wall-clock seconds for the whole run: ASR runs stop training when "
        "their share is spent and are projected (default: no limit)",
    )
    parser.add_argument("--work", default=None, help="folder for the temporary data")
    parser.add_argument("--out", default="metrics/rehearsal.json")
    args = parser.parse_args()
    try:
        config = RehearsalConfig(
            sizes=dict(FULL if args.scale == "full" else TINY),
            device=args.device,
            synth_workers=args.workers,
            clip_fraction=args.clip_fraction,
            cnn_steps=args.cnn_steps,
            asr_steps=args.asr_steps,
            asr_runs=tuple(r for r in args.asr_runs.split(",") if r),
            budget_s=args.budget_s,
        )
        result = rehearse(
            load_params(args.params), config, work=args.work, partial=args.out
        )
    except (Hw2Error, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    write_json(Path(args.out), result)
    print(json.dumps(result["grid"], indent=2))


if __name__ == "__main__":
    main()

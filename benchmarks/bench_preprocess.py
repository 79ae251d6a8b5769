"""Preprocessing throughput (clips/s) on synthetic clips of LJ Speech-like lengths.

    python benchmarks/bench_preprocess.py [--clips 150] [--rounds 3]

Clip lengths follow LJ Speech roughly (mean 6.6 s, 1 to 10.1 s). Prints, measured
side by side in one run (best of interleaved rounds): the whole preprocess_corpus
(check, read, log-mel, write) and the feature step alone with 1 or 2 torch
threads, or in 2 worker processes of 1 thread.
"""

import argparse
import multiprocessing
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from harness import timed

from hw2.core.device import cpu_threads
from hw2.speech import audio
from hw2.speech.ljspeech import Row, write_metadata
from hw2.speech.preprocess import preprocess_corpus

CPU = torch.device("cpu")


def make_corpus(root: Path, n: int, seed: int) -> float:
    """Write n noisy chirps as an LJ Speech-format corpus; returns seconds of audio."""
    rng = np.random.default_rng(seed)
    (root / "wavs").mkdir(parents=True)
    rows, total = [], 0.0
    for i in range(n):
        seconds = float(np.clip(rng.normal(6.6, 2.2), 1.0, 10.1))
        t = np.arange(int(seconds * audio.SAMPLE_RATE)) / audio.SAMPLE_RATE
        x = 0.3 * np.sin(2 * np.pi * (150 + 200 * t) * t)
        x += 0.03 * rng.standard_normal(t.shape)
        clip_id = f"LJ{i // 1000:03d}-{i % 1000:04d}"
        sf.write(root / "wavs" / f"{clip_id}.wav", x, audio.SAMPLE_RATE, "PCM_16")
        rows.append(Row(clip_id, "some text", "some text"))
        total += seconds
    write_metadata(root / "metadata.csv", rows)
    return total


def features(path: Path) -> int:
    wav, _ = audio.load_wav(path)
    return audio.log_mel(audio.crop(wav)[0]).shape[0]


def serial(paths: list[Path], threads: int) -> None:
    with cpu_threads(threads):
        for p in paths:
            features(p)


def _one_thread() -> None:
    torch.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "LJSpeech-1.1"
        seconds = make_corpus(root, args.clips, args.seed)
        paths = sorted((root / "wavs").glob("*.wav"))
        n = len(paths)
        print(f"{n} clips, {seconds / n:.2f} s mean, {seconds / 3600:.2f} h of audio")
        features(paths[0])  # warm-up: filter bank, threads

        torch.set_num_threads(2)
        with multiprocessing.get_context("spawn").Pool(2, _one_thread) as pool:
            pool.map(features, paths[:2])  # start-up is paid once, outside the timing

            candidates = {
                "features, 1 torch thread": lambda: serial(paths, 1),
                "features, 2 torch threads": lambda: serial(paths, 2),
                "features, 2 processes x 1 thread": lambda: pool.map(
                    features, paths, chunksize=8
                ),
                "preprocess_corpus (as shipped)": lambda: preprocess_corpus(
                    root, Path(tmp) / "out", progress=False
                ),
            }
            # rounds interleave the candidates so that a burst of load elsewhere on
            # a shared machine hits them all; the best round of each is kept
            results = {name: float("inf") for name in candidates}
            for _ in range(args.rounds):
                for name, fn in candidates.items():
                    results[name] = min(results[name], timed(CPU, fn)[0])
        base = results["features, 1 torch thread"]
        for name, t in results.items():
            print(
                f"{name:38s} {n / t:7.1f} clips/s  {seconds / t:6.0f}x real time  "
                f"{base / t:4.2f}x vs 1 thread"
            )


if __name__ == "__main__":
    main()

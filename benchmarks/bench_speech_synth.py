"""eSpeak NG corpus synthesis throughput: the pipeline's one worker vs two workers.

    python benchmarks/bench_speech_synth.py [--clips 100]

Prints clips/s and seconds of audio per second for the whole sample path
(synthesis in one fresh worker + WAV writing, as download_speech runs it), and
for synthesis alone with one and with two worker processes, side by side.
The pipeline keeps one worker: the engine's state carries from one utterance to
the next, so the clips a worker has spoken decide the exact bytes of the next.
"""

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hw2.speech import synth
from hw2.speech.corpus import synthesize_corpus


def _speak_all(specs):
    return [len(a) for a in synth._speak_shard(specs)]


def synth_only(specs, workers: int) -> tuple[float, float]:
    """(wall seconds, seconds of audio) with `workers` fresh processes."""
    shards = [specs[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        lengths = [n for shard in pool.map(_speak_all, shards) for n in shard]
    return time.perf_counter() - start, sum(lengths) / synth.SAMPLE_RATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    specs = synth.clip_specs(args.seed, args.clips)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        synthesize_corpus(Path(tmp), args.clips, args.seed, progress=False)
        corpus_s = time.perf_counter() - start
        wavs = sorted((Path(tmp) / "wavs").glob("*.wav"))
        # 44-byte WAV header, 2 bytes a sample
        audio_s = sum((w.stat().st_size - 44) / 2 for w in wavs) / synth.SAMPLE_RATE
    one_s, _ = synth_only(specs, 1)
    two_s, _ = synth_only(specs, 2)

    each = audio_s / args.clips
    print(f"{args.clips} clips, {audio_s:.1f} s of audio ({each:.2f} s each)")
    rows = (
        ("corpus (1 worker + WAVs)", corpus_s),
        ("synthesis, 1 worker", one_s),
        ("synthesis, 2 workers", two_s),
    )
    for name, seconds in rows:
        print(
            f"{name:24s}: {seconds:6.2f} s  {args.clips / seconds:6.1f} clips/s"
            f"  {audio_s / seconds:6.1f} audio-s/s"
        )
    print(f"2 workers vs 1: {one_s / two_s:.2f}x")


if __name__ == "__main__":
    main()

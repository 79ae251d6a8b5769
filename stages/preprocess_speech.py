"""preprocess_speech: the LJ Speech-format corpus -> log-mel features per split."""

import time

from hw2.core.cli import stage_paths
from hw2.core.io import write_json
from hw2.core.stage import Checked, run_stage
from hw2.speech.preprocess import preprocess_corpus


def main(checked: Checked) -> None:
    args = stage_paths(__doc__, "corpus", "out", "report")
    config = checked.config
    start = time.perf_counter()
    report = preprocess_corpus(args.corpus, args.out, config)
    elapsed = time.perf_counter() - start
    write_json(args.report, report)
    print(
        f"{report['n_clips']} clips, {report['total_frames']} frames, "
        f"{report['bytes'] / 1e6:.1f} MB in {elapsed:.1f} s "
        f"({report['n_clips'] / elapsed:.0f} clips/s); cropped {report['cropped']}, "
        f"mixed to mono {report['mixed_to_mono']}, resampled {report['resampled']}"
    )


if __name__ == "__main__":
    run_stage(main)

"""download_speech: data/speech/LJSpeech-1.1, synthesised (sample) or downloaded (full).

The downloaded archive stays in data/downloads/ so an interrupted download resumes
and a rerun does not fetch 2.6 GB again.
"""

from hw2.asr.corpus import SpeechDataConfig, prepare_speech
from hw2.core.errors import run_stage
from hw2.core.params import load_params


def main() -> None:
    config = SpeechDataConfig.from_params(load_params("params.yaml"))
    folder = prepare_speech(config, "data/speech", downloads="data/downloads")
    print(f"wrote {folder}")


if __name__ == "__main__":
    run_stage(main)

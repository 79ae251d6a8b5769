"""DVC stage evaluate_asr: greedy transcripts of the test split and their metrics."""

from pathlib import Path

from hw2.asr.evaluate import ASREvalConfig, evaluate, load_model, transcripts_tsv
from hw2.asr.features import SpeechSplit
from hw2.core.errors import run_stage
from hw2.core.io import write_json, write_text
from hw2.core.params import load_params

TEST = Path("data/features/test")
MODEL = Path("data/models/asr.pt")
METRICS = Path("metrics/asr.json")
TRANSCRIPTS = Path("metrics/asr_transcripts.tsv")


def main() -> None:
    config = ASREvalConfig.from_params(load_params())
    test_split = SpeechSplit(TEST)
    model = load_model(MODEL)
    metrics, rows = evaluate(model, test_split, config)
    write_text(TRANSCRIPTS, transcripts_tsv(rows))
    write_json(METRICS, metrics)
    print(
        f"evaluate_asr: CER {metrics['cer']:.3f}, WER {metrics['wer']:.3f}, "
        f"jaccard {metrics['jaccard']:.3f} on {len(rows)} test clips"
    )


if __name__ == "__main__":
    run_stage(main)

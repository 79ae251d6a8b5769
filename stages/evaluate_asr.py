"""DVC stage evaluate_asr: greedy transcripts of the test split, their metrics and
the details of the model evaluated."""

from hw2.asr.evaluate import evaluate, load_model, transcripts_tsv
from hw2.asr.metrics import TEST_METRICS
from hw2.core.cli import stage_paths
from hw2.core.io import write_json, write_text
from hw2.core.metrics import split_metrics
from hw2.core.stage import Checked, run_stage
from hw2.speech.features import SpeechSplit


def main(checked: Checked) -> None:
    args = stage_paths(
        __doc__, "features", "model", "metrics", "details", "transcripts"
    )
    config = checked.config
    test_split = SpeechSplit(args.features / "test")
    model = load_model(args.model)
    results, rows = evaluate(model, test_split, config)
    metrics, details = split_metrics(results, TEST_METRICS)
    write_text(args.transcripts, transcripts_tsv(rows))
    write_json(args.metrics, metrics)
    write_json(args.details, details)
    print(
        f"evaluate_asr: CER {metrics['cer']:.3f}, WER {metrics['wer']:.3f}, "
        f"jaccard {metrics['jaccard']:.3f} on {len(rows)} test clips"
    )


if __name__ == "__main__":
    run_stage(main)

"""The `make exps` table (hw2.pipeline.exps) from runs as `dvc exp show` gives
them: what it shows, and how it fits a terminal."""

from hw2.pipeline.catalog import ASR_JSON, CNN_JSON
from hw2.pipeline.exps import table
from hw2.pipeline.runs import Run

PARAMS = {"lr": 0.01, "decoder": "transformer", "asr.seed": 42, "cnn.epochs": 15}


def run(name: str, cer: float, state: str | None = None, **params) -> Run:
    metrics = {CNN_JSON: {"test_acc": 0.7296}, ASR_JSON: {"cer": cer, "wer": 0.48}}
    return Run(name, {**PARAMS, **params}, metrics, state=state)


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_headlines_lr_decoder_and_only_the_params_that_vary():
    text = table(
        [run("main", 0.185), run("asr-seed-43", 0.1813, **{"asr.seed": 43})], 120
    )
    header, rule, *body = rows(text)
    assert header == ["run", "test", "acc", "CER", "WER", "lr", "decoder", "seed"]
    assert set(rule[0]) == {"─"}
    assert body[1] == ["asr-seed-43", "0.7296", "0.1813", "0.4800", "0.01",
                       "transformer", "43"]  # fmt: skip


def test_long_names_are_cut_to_the_width_and_numbers_never():
    long = "asr-transformer-seed-43-with-a-very-long-description-of-the-run"
    text = table([run("main", 0.185), run(long, 0.1813, decoder="lstm")], 60)
    assert max(len(line) for line in text.splitlines()) <= 60
    body = rows(text)[2:]
    assert body[1][0].endswith("…") and long.startswith(body[1][0][:-1])
    assert body[1][1:] == ["0.7296", "0.1813", "0.4800", "0.01", "lstm"]


def test_an_unfinished_run_shows_no_metrics_of_its_baseline():
    text = table([run("main", 0.185), run("asr-lstm (running)", 0.185, "running")], 120)
    body = rows(text)[2:]
    assert body[1][2:] == ["–", "–", "–", "0.01", "transformer"]

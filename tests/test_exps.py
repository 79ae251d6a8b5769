"""The `make exps` table (hw2.pipeline.exps) from a runs frame as DVC's table
gives it: what it shows, and how it fits a terminal."""

import pytest

from hw2.core.errors import Hw2Error
from hw2.pipeline.exps import table
from hw2.pipeline.runs import exp_frame, runs_frame

PARAMS = {"lr": "0.01", "decoder": "transformer", "asr.seed": "42", "cnn.epochs": "15"}


def row(name: str, cer: str, state: str | None = None, **params) -> dict:
    metrics = {"test_acc": "0.7296", "cer": cer, "wer": "0.48"}
    head = {"Experiment": name, "rev": "abc1234", "typ": "branch_commit"}
    return {**head, "State": state, **metrics, **PARAMS, **params}


def rows(runs: list[dict], width: int) -> list[list[str]]:
    frame = runs_frame(runs, ["test_acc", "cer", "wer"])
    return [line.split() for line in table(frame, width).splitlines()]


def test_headlines_lr_decoder_and_only_the_params_that_vary():
    runs = [row("main", "0.185"), row("asr-seed-43", "0.1813", **{"asr.seed": "43"})]
    header, rule, *body = rows(runs, 120)
    assert header == ["run", "test", "acc", "CER", "WER", "lr", "decoder", "seed"]
    assert set(rule[0]) == {"─"}
    assert body[1] == ["asr-seed-43", "0.7296", "0.1813", "0.4800", "0.01",
                       "transformer", "43"]  # fmt: skip


def test_long_names_are_cut_to_the_width_and_numbers_never():
    long = "asr-transformer-seed-43-with-a-very-long-description-of-the-run"
    runs = [row("main", "0.185"), row(long, "0.1813", decoder="lstm")]
    frame = runs_frame(runs, ["test_acc", "cer", "wer"])
    assert max(len(line) for line in table(frame, 60).splitlines()) <= 60
    body = rows(runs, 60)[2:]
    assert body[1][0].endswith("…") and long.startswith(body[1][0][:-1])
    assert body[1][1:] == ["0.7296", "0.1813", "0.4800", "0.01", "lstm"]


def test_a_failed_run_is_named_failed_and_shows_no_numbers():
    # DVC's table gives a failed queued run its baseline's numbers
    runs = [row("main", "0.185"), row("bad", "0.185", "Failed", lr="-1")]
    body = rows(runs, 120)[2:]
    assert body[1] == ["bad", "(failed)", "–", "–", "–", "-1", "transformer"]


def test_git_errors_while_dvc_lists_the_runs_are_one_line(monkeypatch, tmp_path):
    # seen in CI: `dvc exp show` while the queue sets up a run's copy, whose git
    # repository has no HEAD yet, raises scmrepo's SCMError (not a DvcException)
    from dvc.repo import Repo
    from scmrepo.exceptions import SCMError

    def opened(root):
        raise SCMError("Empty git repo")

    monkeypatch.setattr(Repo, "open", opened)
    with pytest.raises(Hw2Error, match="`dvc exp show` failed: Empty git repo"):
        exp_frame(tmp_path)

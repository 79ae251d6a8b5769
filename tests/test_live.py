"""dvclive curves through EpochLog: one row per epoch, a summary only at the end."""

import json

import pytest

from hw2.core.live import EpochLog


def rows(live, name):
    text = (live / "plots" / "metrics" / f"{name}.tsv").read_text()
    return [line.split("\t") for line in text.splitlines()[1:]]


def test_rows_per_epoch_and_a_summary_at_the_end(tmp_path):
    live = tmp_path / "live"
    with EpochLog(live) as log:
        for epoch in range(3):
            log.log({"train/loss": 1.0 / (epoch + 1), "val/acc": 0.1 * epoch})
    assert [r[0] for r in rows(live, "train/loss")] == ["0", "1", "2"]
    summary = json.loads((live / "metrics.json").read_text())
    assert summary["step"] == 2 and summary["val"]["acc"] == pytest.approx(0.2)
    assert not (tmp_path / "dvc.yaml").exists()  # dvc.yaml declares the plots


def test_replayed_history_logs_like_the_epochs_it_holds(tmp_path):
    history = [{"train/loss": 0.5}, {"train/loss": 0.25}]
    with EpochLog(tmp_path / "a") as log:
        for logged in history:
            log.log(logged)
    with EpochLog(tmp_path / "b", history[:1]) as log:  # resumed after epoch 1
        log.log(history[1])
    for name in ("plots/metrics/train/loss.tsv", "metrics.json"):
        a, b = (tmp_path / run / name for run in "ab")
        assert a.read_text() == b.read_text(), name


def test_an_error_leaves_the_curves_and_no_summary(tmp_path):
    live = tmp_path / "live"
    with pytest.raises(RuntimeError), EpochLog(live) as log:
        log.log({"train/loss": 1.0})
        raise RuntimeError("diverged")
    assert len(rows(live, "train/loss")) == 1
    assert not (live / "metrics.json").exists()


def test_no_folder_logs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with EpochLog(None) as log:
        log.log({"train/loss": 1.0})
    assert list(tmp_path.iterdir()) == []

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hw2.core.params import load_params
from hw2.pipeline.rehearsal import RehearsalConfig, project_grid

ROOT = Path(__file__).resolve().parents[1]


def _rehearse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "rehearse.py"),
            "--params",
            str(ROOT / "params.yaml"),
            "--work",
            str(tmp_path),
            "--out",
            str(tmp_path / "rehearsal.json"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_tiny_rehearsal_records_every_stage_and_projects_the_grid(tmp_path):
    result = _rehearse(
        tmp_path, "--scale", "tiny", "--device", "cpu", "--asr-runs", "transformer,lstm"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads((tmp_path / "rehearsal.json").read_text())
    stages = {s["stage"]: s for s in out["stages"]}
    assert list(stages) == [
        "download_images",
        "train_cnn",
        "train_cnn_nopool",
        "download_speech",
        "preprocess_speech",
        "train_asr_transformer",
        "train_asr_lstm",
    ]
    for s in stages.values():
        assert s["wall_s"] > 0 and s["peak_rss_mb"] > 0, s
    report = stages["preprocess_speech"]["report"]
    assert report["n_clips"] == 12
    # the LJ Speech-shaped stand-in: cut and unknown transcripts occur
    assert report["truncated_transcripts"] > 0 and report["unknown_chars"] > 0
    assert stages["preprocess_speech"]["bytes"] == report["bytes"]
    assert not stages["train_cnn"]["epoch_projected"]
    grid = out["grid"]
    assert set(grid["asr_runs_s"]) == {"transformer", "lstm"}
    parts = grid["data_s"] + grid["cnn_grid_s"] + sum(grid["asr_runs_s"].values())
    assert grid["total_s"] == pytest.approx(parts, abs=0.2)
    assert out["device"] == "cpu" and "partial" not in out
    # the work folder is cleaned up: only the JSON stays
    assert [p.name for p in tmp_path.iterdir()] == ["rehearsal.json"]


def test_bad_sizes_are_one_line_and_exit_2(tmp_path):
    result = _rehearse(tmp_path, "--scale", "tiny", "--clip-fraction", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: clip_fraction must be in (0, 1], got 0.0"
    ]
    with pytest.raises(ValueError, match="sizes.n_clips"):
        RehearsalConfig(sizes={"n_clips": 0})
    with pytest.raises(ValueError, match="unknown ASR runs"):
        RehearsalConfig(asr_runs=("gru",))


def test_grid_projection_counts_every_run():
    params = load_params(ROOT / "params.yaml")
    config = RehearsalConfig()  # LJ Speech: 2,620 test clips
    stages = [
        {"stage": "download_images", "wall_s": 10.0},
        {"stage": "download_speech", "wall_s": 2.0, "projected_s": 20.0},
        {"stage": "preprocess_speech", "wall_s": 3.0, "projected_s": 30.0},
        {"stage": "train_cnn", "wall_s": 99.0},
    ]
    cnn = {"train_cnn": 100.0, "train_cnn_nopool": 50.0}
    asr = {"transformer": {"epoch_s": 60.0, "test_clip_s": 0.01}}
    grid = project_grid(params, config, stages, cnn, asr)
    epochs = params.integer("cnn.epochs")
    asr_epochs = params.integer("asr.epochs.full")
    assert grid["data_s"] == 60.0
    assert grid["cnn_grid_s"] == 3 * epochs * 100.0 + epochs * 50.0
    assert grid["asr_runs_s"]["transformer"] == pytest.approx(
        asr_epochs * 60.0 + 2620 * 0.01
    )

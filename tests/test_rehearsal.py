import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import with_params, write_params
from rehearsal import RehearsalConfig, project_grid

from hw2.core.params import load_params
from hw2.speech.text import VOCAB_SIZE

ROOT = Path(__file__).resolve().parents[1]


def _rehearse(
    tmp_path: Path, *args: str, params: Path = ROOT / "params.yaml"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "rehearse.py"),
            "--params",
            str(params),
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


@pytest.mark.e2e  # the whole rehearsal, every stage: make test-e2e
def test_tiny_rehearsal_records_every_stage_and_projects_the_grid(tmp_path):
    started = time.monotonic()
    result = _rehearse(
        tmp_path, "--scale", "tiny", "--device", "cpu", "--asr-runs", "transformer,lstm"
    )
    whole_s = time.monotonic() - started
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
    # the stages are parts of the run, each timed once, in seconds
    assert 0 < sum(s["wall_s"] for s in stages.values()) < whole_s
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    for s in stages.values():
        # in MiB: a process with torch loaded holds more than 50, less than the RAM
        assert s["wall_s"] > 0 and 50 < s["peak_rss_mb"] < memory_mb, s
    report = stages["preprocess_speech"]["report"]
    assert report["n_clips"] == 12
    # the LJ Speech-shaped stand-in: cut and unknown transcripts occur
    assert report["truncated_transcripts"] > 0 and report["unknown_chars"] > 0
    assert stages["preprocess_speech"]["bytes"] == report["bytes"]
    assert not stages["train_cnn"]["epoch_projected"]
    for name in ("train_asr_transformer", "train_asr_lstm"):
        asr = stages[name]
        # what the run learned is recorded next to what it cost
        # per-token cross-entropy of a model a few steps from random: about
        # ln(35), the vocabulary's uniform guess (a sum over tokens is far above)
        for loss in ("train_loss_first_tenth", "train_loss_last_tenth", "val_loss"):
            assert 1 < asr[loss] < 2 * math.log(VOCAB_SIZE), (loss, asr)
        # nor does it transcribe: 0 would be the references scored against
        # themselves
        assert asr["val_cer"] > 0 and not asr["epoch_projected"], asr
        # the epoch is all measured, within the stage's own time
        assert asr["epoch_s"] <= asr["wall_s"] + 0.01, asr
    grid = out["grid"]
    assert set(grid["asr_runs_s"]) == {"transformer", "lstm"}
    parts = grid["data_s"] + grid["cnn_grid_s"] + sum(grid["asr_runs_s"].values())
    assert grid["total_s"] == pytest.approx(parts, abs=0.2)
    assert out["device"] == "cpu" and "partial" not in out
    assert out["machine"]["cpu"] and out["machine"]["cpus"] == os.cpu_count()
    # the work folder is cleaned up: only the JSON stays
    assert [p.name for p in tmp_path.iterdir()] == ["rehearsal.json"]


@pytest.mark.slow
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
    with pytest.raises(ValueError, match=r"unknown ASR runs \['gru'\]"):
        RehearsalConfig(asr_steps={"gru": 4})
    with pytest.raises(ValueError, match="asr_steps.lstm must be at least 1"):
        RehearsalConfig(asr_steps={"lstm": 0})
    result = _rehearse(tmp_path, "--scale", "tiny", "--asr-steps", "lstm=four")
    assert result.returncode == 2
    assert "--asr-steps: expected N or RUN=N,..., got 'lstm=four'" in result.stderr
    result = _rehearse(tmp_path, "--scale", "tiny", "--asr-steps", "gru=4")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: unknown ASR runs ['gru']"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("asr.lrr", "unknown key 'asr.lrr' (did you mean 'asr.lr'?)"),
        ("cnn.sed", "unknown key 'cnn.sed' (did you mean 'cnn.seed'?)"),
    ],
)
def test_a_typo_in_params_stops_the_rehearsal_before_work(tmp_path, key, message):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    path = write_params(tmp_path, with_params(params, **{key: 1}))
    result = _rehearse(tmp_path, "--scale", "tiny", "--device", "cpu", params=path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {path}: {message}"]
    assert not (tmp_path / "rehearsal.json").exists()  # no stage ran


def test_asr_steps_per_run():
    # one run a whole epoch, the others a few steps: the full-size rehearsal's mix
    config = RehearsalConfig(asr_steps={"lstm": 8, "mclaurin": 8})
    assert [config.steps_of(r) for r in ("transformer", "lstm", "mclaurin")] == [
        None,
        8,
        8,
    ]
    assert RehearsalConfig(asr_steps=4).steps_of("transformer") == 4
    assert RehearsalConfig().steps_of("lstm") is None


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


@pytest.mark.slow
def test_a_time_budget_cuts_asr_training_and_projects_the_epoch(tmp_path):
    # batch 2 gives the tiny corpus's 9 training clips 5 steps; a budget that
    # is spent before the ASR starts leaves each run its minimum of 2 steps
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    path = write_params(tmp_path, with_params(params, **{"asr.batch_size.full": 2}))
    result = _rehearse(
        tmp_path,
        *("--scale", "tiny", "--device", "cpu", "--asr-runs", "transformer"),
        *("--budget-s", "0.01"),
        params=path,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads((tmp_path / "rehearsal.json").read_text())
    asr = {s["stage"]: s for s in out["stages"]}["train_asr_transformer"]
    assert asr["cut_by_budget"] and asr["epoch_projected"], asr
    assert asr["measured"].startswith("2 of 5 steps at batch 2"), asr
    # the epoch is projected from the mean step (the first left out)
    assert asr["epoch_s"] > 4 * asr["step_s"]
    with pytest.raises(ValueError, match="budget_s must be above 0"):
        RehearsalConfig(budget_s=0)


def _gpu_script(
    tmp_path: Path, rehearse: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    """benchmarks/gpu_rehearsal.sh run from a copy of the project (no .whl/ there);
    `rehearse`: the text of a benchmarks/rehearse.py to run instead of the real one."""
    project = tmp_path / "project"
    (project / "benchmarks").mkdir(parents=True)
    for name in ("gpu_rehearsal.sh", "rehearse.py", "rehearsal.py", "metering.py"):
        shutil.copy(ROOT / "benchmarks" / name, project / "benchmarks" / name)
    if rehearse is not None:
        (project / "benchmarks" / "rehearse.py").write_text(rehearse)
    shutil.copytree(ROOT / "src", project / "src")
    shutil.copy(ROOT / "params.yaml", project / "params.yaml")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OUT": str(tmp_path / "out"),
        "SCALE": "tiny",
        "DEVICE": "cpu",
        "WORKERS": "1",
        **env,
    }
    return subprocess.run(
        ["bash", str(project / "benchmarks" / "gpu_rehearsal.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=int(env.get("LIMIT_S", 480)) + 60,
    )


@pytest.mark.e2e  # the rehearsal again, through the script
def test_gpu_script_runs_the_rehearsal_within_its_budget(tmp_path):
    # the script as the lent machine runs it (there: cuda, a worker per core, all
    # clips); a hard limit far above the tiny run's minute, whatever the load
    result = _gpu_script(tmp_path, ASR_STEPS="lstm=1", LIMIT_S="600")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rehearsal: budget 480 s, hard limit 600 s" in result.stdout
    out = json.loads((tmp_path / "out" / "rehearsal_gpu.json").read_text())
    assert out["config"]["budget_s"] == 480
    assert out["config"]["asr_steps"] == {"lstm": 1}
    assert len(out["stages"]) == 8 and "partial" not in out
    log = (tmp_path / "out" / "rehearsal_gpu.log").read_text()
    assert '"stage": "train_asr_mclaurin"' in log


@pytest.mark.slow
def test_gpu_script_says_when_the_hard_limit_cut_it(tmp_path):
    # a rehearsal that hangs (what the hard limit is for), whatever the machine
    hangs = "import signal\n\nsignal.pause()\n"
    result = _gpu_script(tmp_path, hangs, LIMIT_S="2", BUDGET_S="1")
    assert result.returncode == 124, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"rehearsal: cut at the hard limit; {tmp_path / 'out'}/rehearsal_gpu.json "
        "has the stages done"
    )

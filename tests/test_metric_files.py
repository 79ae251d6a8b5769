"""The metrics files hold the numbers people compare, and DVC's tables show them.

The layout here is what the comparison tools (hw2.pipeline.compare, report, runs)
and `make exps` read: a key renamed or moved is a test failing, not a column
silently missing from a pull request.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from hw2.core.metrics import split_metrics

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
# What `dvc metrics show` lists per file (lists, the intervals and per-seed
# values, are in the files for the tools but not in DVC's tables).
SHOWN = {
    "metrics/cnn.json": {"val_acc", "test_acc"},
    "metrics/asr.json": {"loss", "jaccard", "cosine", "damerau_levenshtein"}
    | {"cer", "wer"},
    "metrics/attention.json": {"speedup", "speedup_causal", "rel_error"}
    | {"memory_ratio", "memory_ratio_causal", "rel_error_causal"},
}


def declared_metrics(dvc_yaml: dict) -> set[str]:
    """The metrics files dvc.yaml's stages declare."""
    entries = [m for s in dvc_yaml["stages"].values() for m in s.get("metrics", [])]
    return {m if isinstance(m, str) else next(iter(m)) for m in entries}


def test_split_keeps_each_metric_with_its_noise_lists_and_a_std_out():
    values = {
        "n_params": 10,
        "acc": 0.5,
        "acc_ci95": [0.4, 0.6],
        "acc_per_seed": [0.4, 0.6],
        "acc_std": 0.1,
        "acc_per_class": {"a": 1.0},
        "loss": 2.0,
        "loss_std": 0.2,
    }
    metrics, details = split_metrics(values, ["loss", "acc"])
    assert list(metrics) == ["loss", "acc", "acc_ci95", "acc_per_seed"]
    # a std is a number DVC would tabulate, a column more: the details keep it
    assert details == {
        "n_params": 10,
        "acc_std": 0.1,
        "acc_per_class": {"a": 1.0},
        "loss_std": 0.2,
    }
    with pytest.raises(KeyError, match="no metric 'wer'"):
        split_metrics(values, ["wer"])


def test_only_the_studies_results_are_declared_metrics():
    assert declared_metrics(DVC_YAML) == set(SHOWN)
    plain = {
        "metrics/images.json",
        "metrics/speech_preprocess.json",
        "metrics/cnn_details.json",
        "metrics/asr_details.json",
        "metrics/attention_details.json",
        "metrics/train_cnn",  # dvclive's summary and curves
        "metrics/train_asr",
    }
    outs = {}
    for stage in DVC_YAML["stages"].values():
        for entry in stage.get("outs", []):
            if isinstance(entry, dict):
                outs.update(entry)
    assert plain <= set(outs)
    assert all(outs[path] == {"cache": False} for path in plain)  # git keeps them


def test_dvc_shows_the_numbers_people_compare_and_fits_a_screen():
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    run = ["dvc", "metrics", "show"]
    shown = json.loads(
        subprocess.run(
            [*run, "--json"], cwd=ROOT, env=env, capture_output=True, check=True
        ).stdout
    )[""]["data"]
    assert {path: set(entry["data"]) for path, entry in shown.items()} == SHOWN
    table = subprocess.run(
        run, cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(table) == 1 + len(SHOWN)
    assert max(map(len, table)) <= 250  # was 1,948 characters a row

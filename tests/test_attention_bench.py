"""bench_attention: params checking, the crossover arithmetic, memory accounting,
and one tiny run writing every output."""

import json
import math
import os
from pathlib import Path

import pytest
import torch
import yaml
from helpers import run_stage

from hw2.attention.feature_map import feature_dim
from hw2.attention_bench.bench import (
    BenchConfig,
    _crossover,
    _crossover_interpolated,
    peak_bytes,
    run_benchmark,
    theoretical_crossover,
    time_calls,
)
from hw2.attention_bench.bench_outputs import write_outputs
from hw2.core.errors import ParamError
from hw2.core.params import Params

ROOT = Path(__file__).resolve().parents[1]
GOOD = {
    "head_dim": 16,
    "terms": 3,
    "lengths": [1024, 256, 512, 256],
    "error_terms": [5, 1, 3],
    "seed": 0,
    "threads": 1,
}


def params(**changes) -> Params:
    attention = {**GOOD, **changes}
    return Params({"attention": {k: v for k, v in attention.items() if v is not None}})


def test_config_from_params():
    config = BenchConfig.from_params(params(), device="cpu")
    assert config.lengths == (256, 512, 1024)
    assert config.error_terms == (1, 3, 5)
    assert (config.head_dim, config.terms, config.seed, config.threads) == (16, 3, 0, 1)
    cores = os.cpu_count() or 1
    assert BenchConfig.from_params(params(threads=cores)).threads == cores


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"terms": 4}, "attention.terms"),
        ({"terms": 0}, "attention.terms"),
        ({"terms": "3"}, "attention.terms"),
        ({"head_dim": 0}, "attention.head_dim"),
        ({"lengths": []}, "attention.lengths"),
        ({"lengths": [256, 0]}, "attention.lengths"),
        ({"lengths": [1 << 20]}, "attention.lengths"),
        ({"error_terms": [1, 2]}, "attention.error_terms"),
        ({"seed": -1}, "attention.seed"),
        ({"threads": 0}, "attention.threads"),
        ({"terms": 9, "head_dim": 64}, "attention.terms"),
        ({"head_dim": None}, "attention.head_dim"),
    ],
)
def test_bad_params_name_their_key(change, key):
    with pytest.raises(ParamError, match=key.replace(".", r"\.")) as info:
        BenchConfig.from_params(params(**change))
    assert "\n" not in str(info.value)


def test_theoretical_crossover_is_about_m():
    assert theoretical_crossover(3, 16, causal=False) == pytest.approx(153 * 70 / 64)
    assert theoretical_crossover(3, 16, causal=True) == pytest.approx(466.6875)
    for dim in (32, 64, 128):
        ratio = theoretical_crossover(3, dim, causal=False) / feature_dim(3, dim)
        assert 1 < ratio < 1.05


def test_measured_crossover():
    lengths = [1, 2, 4, 8]
    assert _crossover(lengths, [1, 1, 1, 1], [2, 0.5, 2, 0.5]) == 8
    assert _crossover(lengths, [1, 1, 1, 1], [2, 2, 0.5, 0.5]) == 4
    assert _crossover(lengths, [1, 1, 1, 1], [2, 2, 2, 2]) is None
    assert _crossover_interpolated(lengths, [1, 1, 1, 1], [2, 2, 0.5, 0.5]) == 2.8
    assert _crossover_interpolated(lengths, [1, 1, 1, 1], [2, 2, 2, 2]) is None


def test_peak_bytes_counts_what_a_call_allocates():
    cpu = torch.device("cpu")
    assert peak_bytes(lambda: torch.empty(1 << 18), cpu) >= 1 << 20
    x = torch.ones(1 << 16)
    assert peak_bytes(lambda: x.add_(1), cpu) < 1 << 10  # in place: nothing new


def test_time_calls_warms_up_then_alternates_and_times_every_name():
    calls: list[str] = []
    fns = {name: lambda name=name: calls.append(name) for name in ("a", "b")}
    got = time_calls(fns, torch.device("cpu"), repeats=3, min_seconds=0.001)
    assert set(got) == {"a", "b"} and all(0 < t < math.inf for t in got.values())
    # one warm-up call each, then a block of calls per name, alternating per repeat
    blocks = [name for i, name in enumerate(calls) if i == 0 or calls[i - 1] != name]
    assert calls[:2] == ["a", "b"] and blocks == ["a", "b"] * 4


def test_tiny_run_writes_every_output(tmp_path):
    config = BenchConfig(
        head_dim=4,
        terms=3,
        lengths=(32, 64),
        error_terms=(1, 3),
        repeats=1,
        error_len=64,
    )
    result = run_benchmark(config, progress=False)
    write_outputs(result, tmp_path)
    metrics = json.loads((tmp_path / "attention_details.json").read_text())
    time_csv = (tmp_path / "attention_time.csv").read_text().splitlines()
    for suffix in ("", "_causal"):
        for key in (
            "crossover_len",
            "speedup_at_max_len",
            "memory_ratio_at_max_len",
            "theoretical_crossover_len",
        ):
            assert key + suffix in metrics
        # the speed-up is that of the longest length's timings, as the CSV has them
        seconds = metrics["seconds_at_max_len" + suffix]
        assert metrics["speedup_at_max_len" + suffix] == round(
            seconds["softmax"] / seconds["mclaurin"], 3
        )
        for method, value in seconds.items():
            assert f"64,{method}{suffix},{value:.6g}" in time_csv
    assert set(metrics["rel_error"]) == {"1", "3"}
    assert metrics["rel_error"]["3"] < metrics["rel_error"]["1"]
    assert metrics["settings"]["feature_dim"] == 15
    headline = json.loads((tmp_path / "attention.json").read_text())
    assert headline == {
        "speedup": metrics["speedup_at_max_len"],
        "speedup_causal": metrics["speedup_at_max_len_causal"],
        "memory_ratio": metrics["memory_ratio_at_max_len"],
        "memory_ratio_causal": metrics["memory_ratio_at_max_len_causal"],
        "rel_error": metrics["rel_error"]["3"],  # at the terms the timings used
        "rel_error_causal": metrics["rel_error_causal"]["3"],
    }
    assert time_csv[0] == "length,method,seconds" and len(time_csv) == 1 + 2 * 4
    error_csv = (tmp_path / "attention_error.csv").read_text().splitlines()
    assert error_csv[0] == "terms,method,rel_error"
    assert [row.split(",")[:2] for row in error_csv[1:]] == [
        ["1", "mclaurin"],
        ["3", "mclaurin"],
        ["1", "mclaurin_causal"],
        ["3", "mclaurin_causal"],
    ]
    assert (tmp_path / "attention_memory.csv").read_text().startswith("length,method,")
    assert not list(tmp_path.glob("*.png"))  # DVC's plots draw the CSVs
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_stage_refuses_a_bad_param_in_one_line(tmp_path):
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["attention"]["terms"] = 4
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    run = run_stage("bench_attention", tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert "attention.terms must be odd" in run.stderr
    assert not (tmp_path / "metrics").exists()

"""CPU threads: the same params give the same bytes however a stage is started.

`make homework` starts its workers with OMP_NUM_THREADS=1, a shell's `dvc exp run`
with whatever it has (unset: one thread per core). The ASR stages take their
thread count from params.yaml's `threads`, the CNN and data stages compute on
one thread, so the environment changes no output.
"""

from pathlib import Path

import pytest
import torch
import yaml
from helpers import TINY, run_stage, with_params
from test_asr_training import PARAMS, make_split, write_project
from test_preprocess import make_corpus

import hw2.asr.train as train_module
from hw2.asr.config import ASRConfig
from hw2.asr.evaluate import ASREvalConfig
from hw2.core import device
from hw2.core.device import cpu_threads
from hw2.core.errors import ParamError
from hw2.core.params import Params

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
# as `make homework` starts a worker on 2 cores, and as a shell on 2 cores does
HOMEWORK, SHELL = {"OMP_NUM_THREADS": "1"}, {"OMP_NUM_THREADS": "2"}


def outputs(root: Path, *paths: str) -> dict[str, bytes]:
    """Every file under the given paths, by path."""
    found = {}
    for path in paths:
        p = root / path
        for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
            if f.is_file():
                found[str(f.relative_to(root))] = f.read_bytes()
    assert found, paths
    return found


def run_ok(name: str, root: Path, env: dict[str, str]) -> None:
    done = run_stage(name, root, env=env)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    return {
        name: make_split(root / name, n, seed)
        for name, n, seed in (("train", 12, 0), ("validation", 5, 1), ("test", 5, 2))
    }


def test_asr_stages_give_the_same_bytes_under_any_omp_num_threads(splits, tmp_path):
    # Without the param these runs differ (model and metrics, measured on main).
    params = Params(PARAMS).override({"asr.epochs.sample": 1})
    results = []
    for env in (HOMEWORK, SHELL):
        root = tmp_path / env["OMP_NUM_THREADS"]
        root.mkdir()
        write_project(root, splits, params.override({"threads": 1}).data)
        run_ok("train_asr", root, env)
        run_ok("evaluate_asr", root, env)
        results.append(outputs(root, "data/models", "metrics/asr.json"))
    assert results[0] == results[1]


def test_cnn_and_data_stages_give_the_same_bytes_under_any_omp_num_threads(
    tmp_path,
):
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    results = []
    for env in (HOMEWORK, SHELL):
        root = tmp_path / env["OMP_NUM_THREADS"]
        make_corpus(root / "data" / "speech" / "LJSpeech-1.1", n=9)
        (root / "params.yaml").write_text(yaml.safe_dump(with_params(base, **TINY)))
        for name in ("download_images", "train_cnn", "evaluate_cnn"):
            run_ok(name, root, env)
        run_ok("preprocess_speech", root, env)
        data = outputs(root, "data/images", "data/models", "data/features")
        results.append({**data, **outputs(root, "metrics/cnn.json")})
    assert results[0] == results[1]


def test_training_runs_on_the_threads_param(splits, tmp_path, monkeypatch):
    class Seen(Exception):
        pass

    def first_step(*args, **kwargs):
        raise Seen(torch.get_num_threads())

    monkeypatch.setattr(train_module, "train_step", first_step)
    before = torch.get_num_threads()
    config = ASRConfig.from_params(Params(PARAMS).override({"threads": before + 1}))
    with pytest.raises(Seen) as seen:
        train_module.train(
            config,
            splits["train"],
            splits["validation"],
            checkpoint_path=tmp_path / "c.pt",
            live_dir=tmp_path / "live",
            progress=False,
        )
    assert seen.value.args == (before + 1,) and torch.get_num_threads() == before


def test_stages_that_read_threads_record_it_in_dvc_lock():
    # dvc.lock records a stage's declared params: threads=1 and threads=2 are two
    # configurations there, in `dvc params diff` and in the run cache
    declaring = {name for name, s in STAGES.items() if "threads" in s.get("params", [])}
    assert declaring == {"train_asr", "evaluate_asr"}


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True, None, 2000])
@pytest.mark.parametrize("reader", [ASRConfig.from_params, ASREvalConfig.from_params])
def test_threads_must_be_a_whole_number_of_at_least_one(reader, value):
    with pytest.raises(ParamError) as err:
        reader(Params(PARAMS).override({"threads": value}))
    assert str(err.value) == (
        f"params.yaml: threads must be an integer >= 1, <= 1024, got {value!r}"
    )


def test_more_threads_than_cpus_is_said_once(monkeypatch, capsys):
    monkeypatch.setattr(device, "usable_cpus", lambda: 2)
    monkeypatch.setattr(device, "_WARNED", set())
    for _ in range(2):
        with cpu_threads(2), cpu_threads(1, processes=2):
            pass
        with cpu_threads(2, processes=2), cpu_threads(3):
            assert torch.get_num_threads() == 3
    assert capsys.readouterr().err.splitlines() == [
        "warning: threads: 2 CPU threads in each of 2 processes on 2 usable CPUs: "
        "the threads wait on one another (at most 1 keeps each on a core of its own)",
        "warning: threads: 3 CPU threads on 2 usable CPUs: the threads wait on one "
        "another (at most 2 keeps each on a core of its own)",
    ]

"""The standing probe suite, fast part: each refusal an outside round of probes
found as a traceback, a hang or a silent loss, held to one line (issue 22).

Bad files are parametrised; a full or read-only disk is a small tmpfs where
mounting is allowed (skipped otherwise) and a mocked errno everywhere. The slow
probes are marked `faults` (a stage run until it is signalled, a few seconds each)
or are in test_probes_dvc.py (dvc runs, `e2e`).
"""

import errno
import io
import os
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import ROOT, TINY, copy_project, run_stage, with_params, write_params
from probing import (
    alive,
    background,
    children,
    lines,
    stage_command,
    stage_env,
    tmpfs,
    wait_for,
)

from hw2.core import failpoints, npz, params, resources
from hw2.core.download import download
from hw2.core.errors import DataError, Hw2Error, ParamError, ResourceError
from hw2.core.params import LIMITS, load_params
from hw2.pipeline import preflight
from hw2.speech.ljspeech import read_metadata

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def one_line(stderr: str) -> str:
    """The stage's error: exactly one `error:` line and no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in lines(stderr) if line.startswith("error: ")]
    assert len(errors) == 1, stderr[-3000:]
    return errors[0]


# --- params.yaml ---------------------------------------------------------------

LAUGHS = "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"lr: 0.01\ndecoder: transf\xe9rmer\n", "line 2: byte 0xe9 at column 16"),
        (b"\xff\xfel\x00r\x00", "line 1: byte 0xff at column 1 is not UTF-8"),
        (b"", "params.yaml: empty"),
        (b"# only a comment\n", "params.yaml: empty"),
        (b"a: &a [1, 2]\nlr: *a\n", "line 2: YAML aliases (*a) are not allowed"),
        (f"a: &a [lol]\n{LAUGHS}lr: *i\n".encode(), "YAML aliases (*a)"),
        (b"lr: [0.01\n", "is not valid YAML"),
        (b"x: " + b"9" * (2 << 20) + b"\n", "more than a params file holds"),
    ],
    ids=["latin1", "utf16", "empty", "comment", "alias", "laughs", "syntax", "huge"],
)
def test_a_bad_params_file_is_one_short_line(tmp_path, text, words):
    path = tmp_path / "params.yaml"
    path.write_bytes(text)
    with pytest.raises(ParamError) as caught:
        load_params(path)
    assert words in str(caught.value)
    assert len(str(caught.value).replace(str(path), "")) < 160  # never a huge value


def repo_params(**changes) -> params.Params:
    return params.Params(with_params(PARAMS, **changes), known=params.SCHEMA)


def check_params(p: params.Params) -> None:
    """Every stage's reading of params.yaml, as the preflight stage runs them."""
    for read in preflight.stage_readers().values():
        read(p)


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_every_size_has_an_upper_bound(key):
    source = "full" if key.endswith(".full") else "sample"  # what is read
    changes = {key: LIMITS[key] + 1, "data.speech.source": source}
    with pytest.raises(ParamError, match=rf"{key} must be .*<= {LIMITS[key]}, got"):
        check_params(repo_params(**changes))


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("asr.model.hidden", 10_000_000, "asr.model.hidden must be an integer >= 1"),
        ("data.images.sample.n_train", 10**11, "n_train must be an integer >= 4"),
        ("asr.batch_size", 0, "asr.batch_size must be a section with keys full, sa"),
        ("asr.epochs", 3, "asr.epochs must be a section with keys full, sample"),
        ("lr", [0.1] * 10**5, "got <a list of 100000 items>"),
        ("decoder", "x" * 10**5, "got 'xxxxx"),
    ],
)
def test_out_of_range_values_are_named_short(key, value, words):
    with pytest.raises(ParamError) as caught:
        check_params(repo_params(**{key: value}))
    assert words in str(caught.value) and len(str(caught.value)) < 250


def test_a_value_changed_is_reported_the_read_one_first(tmp_path, monkeypatch):
    monkeypatch.setattr(params, "_LOADED", [])
    path = write_params(tmp_path, PARAMS)
    loaded = load_params(path)
    loaded.number("lr", low=0)
    assert params.changed_since_read() is None
    path.write_text(path.read_text() + "# a comment changes no value\n")
    assert params.changed_since_read() is None
    # not read, yet the run's params are the file's at its start (issue 30)
    write_params(tmp_path, with_params(PARAMS, decoder="lstm"))
    assert params.changed_since_read() == f"{path}: decoder 'transformer' -> 'lstm'"
    write_params(tmp_path, with_params(PARAMS, decoder="lstm", lr=0.03))
    assert params.changed_since_read() == f"{path}: lr 0.01 -> 0.03"


# --- failpoints ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["garbage", "train_step:abc", "train_step:0", "train_step:", "x:1"]
)
def test_a_bad_failpoint_is_refused(value):
    with pytest.raises(Hw2Error, match="expected POINT or POINT:COUNT"):
        failpoints.check_env(value)


@pytest.mark.parametrize("value", ["", "train_step", "train_epoch:3", "download:1"])
def test_a_good_failpoint_passes(value):
    failpoints.check_env(value)


def test_a_stage_with_a_bad_failpoint_stops_in_one_line(tmp_path):
    write_params(tmp_path, PARAMS)
    done = run_stage("download_images", tmp_path, env={failpoints.ENV: "garbage"})
    assert done.returncode == 2
    assert "HW2_FAILPOINT='garbage'" in one_line(done.stderr)
    assert not (tmp_path / "data").exists()


# --- files that lie ------------------------------------------------------------


def forged_npz(path: Path, shape: tuple[int, ...]) -> Path:
    """An octmnist-like npz whose train_images header claims `shape`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in ("train", "val", "test"):
            member = io.BytesIO()
            header = {"descr": "|u1", "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(member, header)
            member.write(bytes(2 * 28 * 28))
            zf.writestr(f"{split}_images.npy", member.getvalue())
            labels = io.BytesIO()
            np.save(labels, np.zeros((2, 1), np.int64))
            zf.writestr(f"{split}_labels.npy", labels.getvalue())
    return path


def test_an_npz_header_claiming_more_than_its_file_is_refused(tmp_path):
    path = forged_npz(tmp_path / "o.npz", (10**8, 28, 28))
    with pytest.raises(DataError, match=r"'train_images' claims shape .* \(73.0 GiB\)"):
        npz.check(path)


def test_an_npz_needing_more_memory_than_there_is_is_refused(tmp_path, monkeypatch):
    path = forged_npz(tmp_path / "o.npz", (2, 28, 28))
    npz.check(path)
    monkeypatch.setattr(resources, "available_memory", lambda: 1000)
    with pytest.raises(ResourceError, match="needs at least 4.6 KiB of memory"):
        npz.check(path)


def test_a_byte_order_mark_is_not_part_of_the_first_id(tmp_path):
    path = tmp_path / "metadata.csv"
    path.write_bytes("LJ001-0001|Hi.|hi.\nLJ001-0002|Yo.|yo.\n".encode("utf-8-sig"))
    assert [row.id for row in read_metadata(path)] == ["LJ001-0001", "LJ001-0002"]


def closed_port_url(name: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def test_an_offline_download_keeps_the_file_it_would_replace(tmp_path):
    dest = tmp_path / "octmnist.npz"
    dest.write_bytes(b"the sample's npz")
    with pytest.raises(DataError, match="failed"):
        download(closed_port_url("octmnist.npz"), dest, checksum="0" * 32)
    assert dest.read_bytes() == b"the sample's npz"


# --- disks: full and read-only -------------------------------------------------


def test_disk_full_is_named_with_its_free_and_needed_bytes(tmp_path):
    exc = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "f.npy"))
    line = resources.write_failure(exc, [], need=3 << 30)
    assert line.startswith(f"no space left on {resources.disk_of(tmp_path)}")
    assert "free; the stage writes about 3.0 GiB" in line


def test_a_write_error_without_errno_on_a_full_disk_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "free_bytes", lambda path: 512)
    line = resources.write_failure(RuntimeError("System error."), [tmp_path])
    assert "no space left on" in line and "(RuntimeError: System error.)" in line
    monkeypatch.setattr(resources, "free_bytes", lambda path: 1 << 30)
    assert resources.write_failure(RuntimeError("System error."), [tmp_path]) is None


def test_read_only_is_named_with_its_folder(tmp_path):
    exc = OSError(errno.EROFS, "Read-only file system", str(tmp_path / "m" / "x.json"))
    line = resources.write_failure(exc, [])
    assert line.startswith(f"{tmp_path / 'm'}: read-only file system")


def test_synthesis_on_a_full_disk_is_one_line(tmp_path):
    write_params(tmp_path, with_params(PARAMS, **{"data.speech.sample.n_clips": 4}))
    with tmpfs(tmp_path / "data" / "speech", "64k"):
        done = run_stage("download_speech", tmp_path)
        assert done.returncode == 2
        line = one_line(done.stderr)
        assert "no space left on" in line and "(tmpfs)" in line, line
        assert "the stage writes about" in line and "LibsndfileError" in line
        assert list((tmp_path / "data" / "speech").iterdir()) == []


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from test_preprocess import make_corpus

    folder = tmp_path_factory.mktemp("corpus") / "LJSpeech-1.1"
    make_corpus(folder, n=20, seed=1)
    return folder


def test_features_on_a_full_disk_are_one_line(tmp_path, corpus):
    write_params(tmp_path, PARAMS)
    with tmpfs(tmp_path / "out", "64k") as out:
        args = ["--corpus", str(corpus), "--out", f"{out}/f", "--report", f"{out}/r"]
        done = subprocess.run(
            stage_command("preprocess_speech", *args),
            cwd=tmp_path,
            env=stage_env(),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2
        assert f"no space left on {out} (tmpfs)" in one_line(done.stderr)
        assert list(out.iterdir()) == []


def test_a_read_only_metrics_folder_is_one_line(tmp_path):
    write_params(tmp_path, with_params(PARAMS, **TINY))
    with tmpfs(tmp_path / "metrics", "64k", read_only=True):
        done = run_stage("download_images", tmp_path)
        assert done.returncode == 2
        line = one_line(done.stderr)
        assert line == "error: metrics: read-only file system " + (
            f"({tmp_path / 'metrics'} (tmpfs)); the stage writes there"
        )


def test_preflight_refuses_a_read_only_or_full_disk(tmp_path):
    dag = {"preprocess_speech": {"cmd": "x", "outs": ["data/features"]}}
    with (
        tmpfs(tmp_path / "data", "64k", read_only=True),
        pytest.raises(ResourceError, match="data: cannot write there .read-only"),
    ):
        preflight.check_folders(tmp_path, dag, tmp_path / "cache")
    with tmpfs(tmp_path / "data", "64k"):
        data = with_params(PARAMS, **{"data.speech.sample.n_clips": 1000})
        todo = {"preprocess_speech": "never run"}
        with pytest.raises(ResourceError, match=r"needs about 15\d\.\d MiB on .*tmpfs"):
            preflight.check_space(tmp_path / "data", dag, {}, todo, data, tmp_path)


def test_preflight_knows_which_stages_will_run(tmp_path, monkeypatch):
    """DVC's own answer, read without the lock that `dvc repro` holds around it."""
    from dvc.repo import Repo

    dag = {
        "make": {"cmd": "cp code.py a", "deps": ["code.py"], "params": ["lr"]},
        "use": {"cmd": "cp a b", "deps": ["a"], "outs": ["b"]},
        "other": {"cmd": "echo c > c", "outs": ["c"]},
    }
    dag["make"]["outs"] = ["a"]
    (tmp_path / "code.py").write_text("v1")
    (tmp_path / "params.yaml").write_text("lr: 1\n")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": dag}))
    monkeypatch.chdir(tmp_path)  # DVC reproduces the stages under the cwd
    with Repo.init(str(tmp_path), no_scm=True) as repo:
        repo.reproduce()
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]
    assert preflight.pending(tmp_path, lock) == {}
    (tmp_path / "params.yaml").write_text("lr: 2\n")
    assert preflight.pending(tmp_path, lock) == {
        "make": "param lr modified",
        "use": "after make",
    }
    (tmp_path / "params.yaml").write_text("lr: 1\n")
    (tmp_path / "code.py").write_text("v2")
    (tmp_path / "c").unlink()
    assert preflight.pending(tmp_path, lock) == {
        "make": "code.py modified",
        "use": "after make",
        "other": "c deleted",
    }
    del lock["other"]
    assert preflight.pending(tmp_path, lock)["other"] == "never run"


# --- stopping: Ctrl-C, SIGTERM, the parent gone, params changed ---------------


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """A folder with params for a CNN that trains for ever, and its images."""
    folder = tmp_path_factory.mktemp("cnn")
    write_params(folder, with_params(PARAMS, **{**TINY, "cnn.epochs": 10_000}))
    assert run_stage("download_images", folder).returncode == 0
    return folder


def training(images: Path, tmp_path: Path) -> Path:
    """A copy of `images` to train in."""
    (tmp_path / "data" / "images").mkdir(parents=True)
    for name in ("params.yaml", "data/images/octmnist.npz"):
        (tmp_path / name).write_bytes((images / name).read_bytes())
    return tmp_path


def started(log: Path) -> bool:
    """The CNN has finished an epoch (so its signal handlers are in place)."""
    return "epoch 1: train loss" in log.read_text(errors="replace")


@pytest.mark.faults  # stages run to a signal: seconds each
@pytest.mark.parametrize(
    ("signum", "code", "words"),
    [
        (signal.SIGINT, 130, "train_cnn stopped: interrupted (Ctrl-C)"),
        (signal.SIGTERM, 143, "train_cnn stopped: it received SIGTERM"),
    ],
)
def test_a_stopped_stage_says_how_to_resume(images, tmp_path, signum, code, words):
    cwd, log = training(images, tmp_path), tmp_path / "log"
    with background(stage_command("train_cnn"), cwd, log, env=stage_env()) as proc:
        wait_for(lambda: started(log), "the first epoch")
        proc.send_signal(signum)
        assert proc.wait(timeout=120) == code
    line = one_line(log.read_text())
    assert words in line and "run `dvc repro` to finish" in line
    assert not (cwd / "data" / "models" / "cnn.pt").exists()
    assert [p.name for p in (cwd / "data" / "models").glob(".*")] == []


@pytest.mark.faults  # stages run to a signal: seconds each
@pytest.mark.parametrize("shell", ["/bin/bash", "/bin/sh", None])
def test_a_stage_whose_parent_dies_stops(images, tmp_path, shell):
    """bash execs the stage; dash (often /bin/sh) forks and outlives its parent."""
    if shell and not Path(shell).exists():
        pytest.skip(f"no {shell}")
    cwd, log = training(images, tmp_path), tmp_path / "log"
    command = " ".join(stage_command("train_cnn"))
    inner = [shell, "-c", command] if shell else stage_command("train_cnn")
    # the parent (as dvc would be) starts the stage, then is killed
    parent = [sys.executable, "-c", f"import subprocess; subprocess.run({inner!r})"]
    with background(parent, cwd, log, env=stage_env()) as proc:
        wait_for(lambda: started(log), "the first epoch")
        stage = children(proc.pid)[0]
        if Path(f"/proc/{stage}/comm").read_text().strip() in ("sh", "dash", "bash"):
            stage = children(stage)[0]  # a shell that forked: the stage is its child
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        wait_for(lambda: not alive(stage), "the stage to stop")
    line = one_line(log.read_text())
    assert "train_cnn stopped: its" in line and "has exited" in line
    assert not (cwd / "data" / "models" / "cnn.pt").exists()


@pytest.mark.faults  # stages run to a signal: seconds each
def test_params_changed_under_a_stage_stop_it(images, tmp_path):
    cwd, log = training(images, tmp_path), tmp_path / "log"
    with background(stage_command("train_cnn"), cwd, log, env=stage_env()) as proc:
        wait_for(lambda: started(log), "the first epoch")
        data = yaml.safe_load((cwd / "params.yaml").read_text())
        write_params(cwd, with_params(data, lr=0.03))  # what `dvc exp run -S` does
        assert proc.wait(timeout=120) == 2
    line = one_line(log.read_text())
    assert line.startswith("error: params.yaml: lr 0.01 -> 0.03 while train_cnn ran")
    assert "dvc exp run --queue" in line
    assert not (cwd / "data" / "models" / "cnn.pt").exists()


@pytest.mark.faults  # stages run to a signal: seconds each
def test_a_param_the_stage_does_not_read_changed_under_it_stops_it(images, tmp_path):
    # the run's params are the file's at its start (issue 30): a second `dvc exp
    # run` rewriting `decoder` must not leave train_cnn's run labelled with it
    cwd, log = training(images, tmp_path), tmp_path / "log"
    with background(stage_command("train_cnn"), cwd, log, env=stage_env()) as proc:
        wait_for(lambda: started(log), "the first epoch")
        data = yaml.safe_load((cwd / "params.yaml").read_text())
        write_params(cwd, with_params(data, decoder="lstm"))
        assert proc.wait(timeout=120) == 2
    line = one_line(log.read_text())
    assert line.startswith(
        "error: params.yaml: decoder 'transformer' -> 'lstm' while train_cnn ran"
    )
    assert not (cwd / "data" / "models" / "cnn.pt").exists()
    assert not (cwd / "metrics").exists() or not any((cwd / "metrics").rglob("*.json"))


# --- library caches ------------------------------------------------------------


@pytest.mark.faults  # stages run to a signal: seconds each
def test_a_stage_writes_nothing_in_the_home_folder(tmp_path):
    home, temp = tmp_path / "home", tmp_path / "temp"
    home.mkdir()
    temp.mkdir()
    cwd = tmp_path / "project"
    cwd.mkdir()
    write_params(cwd, with_params(PARAMS, **TINY))
    env = stage_env(HOME=str(home), TMPDIR=str(temp))
    for name in ("MPLCONFIGDIR", "TORCHINDUCTOR_CACHE_DIR", "XDG_CACHE_HOME"):
        env.pop(name, None)
    env.pop("XDG_CONFIG_HOME"), env.pop("XDG_DATA_HOME")  # conftest's, in its HOME
    done = subprocess.run(
        stage_command("download_images"), cwd=cwd, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(home.iterdir()) == []
    assert {p.name for p in temp.iterdir()} <= {f"hw2-cache-{os.getuid()}"}
    probe = "import hw2, os; print(os.environ['TORCHINDUCTOR_CACHE_DIR'])"
    shown = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True
    ).stdout.strip()
    assert shown == str(temp / f"hw2-cache-{os.getuid()}" / "torchinductor")


def test_a_copied_project_has_the_preflight_stamp(tmp_path):
    """The stamp is git-tracked, so every clone has it (CI's --allow-missing)."""
    copy_project(tmp_path)
    assert (tmp_path / "preflight.ok").read_text() == preflight.STAMP

"""The standing probe suite, DVC part: what `dvc repro` does with a refused,
interrupted or starved run, on a tiny reproduced copy of the project (issue 22).

Each probe works in its own copy of the session's reproduced tiny project. A
full or read-only disk is a tmpfs where mounting is allowed, skipped otherwise
(test_probes.py covers the messages with a mocked errno).
"""

import hashlib
import json
import shlex
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import copy_reproduced, sh, tool_env, with_params
from probing import alive, background, descendants, tmpfs, wait_for

from hw2.pipeline.preflight import STAMP

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tiny_reproduced, tmp_path) -> Path:
    """A copy of the shared reproduced tiny project (workspace, cache, git)."""
    return copy_reproduced(tiny_reproduced.root, tmp_path / "project")


def set_params(project: Path, **changes) -> None:
    path = project / "params.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(with_params(data, **changes), sort_keys=False))


def digests(project: Path, *paths: str) -> dict[str, str]:
    return {p: hashlib.md5((project / p).read_bytes()).hexdigest() for p in paths}


KEPT = ("metrics/images.json", "metrics/images_samples.png", "data/images/octmnist.npz")


def refused(project: Path, cmd: list[str], words: str) -> None:
    """`cmd` fails at the preflight stage with `words` in its one line."""
    done = sh(cmd, project, ok=False)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "failed to reproduce 'preflight'" in out, out[-3000:]
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], out[-3000:]
    assert "Traceback" not in out


def test_bad_params_leave_every_output_in_place(project):
    before = digests(project, *KEPT)
    set_params(project, **{"data.images.sample.n_train": -5})
    refused(project, ["dvc", "repro", "download_images"], "n_train must be an")
    assert digests(project, *KEPT) == before


def test_an_empty_params_file_leaves_the_model_in_place(project):
    before = digests(project, "data/models/cnn.pt")
    (project / "params.yaml").write_text("")
    done = sh(["dvc", "repro", "train_cnn"], project, ok=False)
    assert done.returncode != 0
    assert digests(project, "data/models/cnn.pt") == before


def test_offline_full_download_leaves_the_sample_in_place(project):
    before = digests(project, *KEPT)
    set_params(
        project,
        **{
            "data.images.source": "full",
            "data.images.url": "http://127.0.0.1:9/octmnist.npz",  # discard: closed
        },
    )
    refused(project, ["dvc", "repro", "download_images"], "cannot be reached")
    assert digests(project, *KEPT) == before


def test_a_read_only_metrics_folder_leaves_the_data_in_place(project):
    before = digests(project, *KEPT)
    set_params(project, **{"data.images.sample.n_train": 52})
    saved = {p: (project / p).read_bytes() for p in KEPT if p.startswith("metrics/")}
    with tmpfs(project / "metrics", "1m"):
        for path, data in saved.items():
            (project / path).write_bytes(data)
        subprocess.run(["mount", "-o", "remount,ro", str(project / "metrics")])
        refused(project, ["dvc", "repro"], "metrics: cannot write there (read-only")
        assert digests(project, *KEPT) == before


def readme_way_back() -> list[list[str]]:
    """The README's commands back to the last commit (its checkouts)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text.split("Back to the last commit:", 1)[1].split("```")[1]
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines()]
    return [c for c in commands if c[1:2] == ["checkout"]]


def test_the_readme_way_back_restores_params_metrics_and_report(project):
    set_params(project, lr=0.02)
    out = sh(["dvc", "repro"], project).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if "Running stage" in line}
    assert ran == {"preflight", "train_cnn", "evaluate_cnn", "report"}, out
    assert (project / "preflight.ok").read_text() == STAMP
    assert sh(["git", "status", "--porcelain", "preflight.ok"], project).stdout == ""
    assert json.loads(sh(["dvc", "status", "--json"], project).stdout) == {}
    # the report too goes back with the params and metrics it describes
    assert [c[0] for c in readme_way_back()] == ["git", "dvc"]
    for command in readme_way_back():
        sh(command, project)
    assert sh(["git", "status", "--porcelain"], project).stdout == ""
    assert json.loads(sh(["dvc", "status", "--json"], project).stdout) == {}


@pytest.mark.parametrize("shell", ["/bin/bash", "/bin/sh"])
def test_a_stage_stops_with_a_killed_dvc_and_resumes(project, shell, tmp_path):
    set_params(project, **{"asr.epochs.sample": 3})
    log = tmp_path / "dvc.log"
    cmd = ["dvc", "repro", "train_asr"]
    env = tool_env(SHELL=shell, PYTHONUNBUFFERED="1")
    with background(cmd, project, log, env=env) as dvc:
        # the second epoch's bar: the first epoch's checkpoint is saved
        wait_for(lambda: "epoch 2/3" in log.read_text(errors="replace"), "epoch 2")
        stage = descendants(dvc.pid)  # the shell (if it forked) and the stage
        assert stage
        dvc.send_signal(signal.SIGTERM)  # dvc alone, as `timeout` does
        dvc.wait()
        wait_for(lambda: not any(alive(pid) for pid in stage), "the stage to stop")
    # "its dvc ... has exited", or "it received SIGTERM" when the signal came
    # before the kernel's parent-death one
    assert "error: train_asr stopped: it" in log.read_text()
    assert (project / "data" / "checkpoints" / "asr.pt").is_file()
    out = sh(["dvc", "repro", "train_asr"], project).stdout
    assert "train_asr: resuming after epoch" in out, out[-2000:]
    assert not (project / "data" / "checkpoints" / "asr.pt").exists()


def test_leftovers_go_when_dvc_restores_outputs_instead_of_running(project):
    """A killed extraction or synthesis leaves `.LJSpeech-1.1.<pid>.*.tmp/`; when
    DVC then restores the corpus from its cache, no project code runs to remove
    it (download_speech: the stage whose outputs are all in the cache)."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid whose process is over
    speech = project / "data" / "speech"
    left = speech / f".LJSpeech-1.1.{gone.pid}.abcd1234.tmp"
    (left / "wavs").mkdir(parents=True)
    sh(["rm", "-r", "LJSpeech-1.1"], speech)
    out = sh(["dvc", "repro"], project).stdout
    assert "Running stage" not in out, out  # checked out from the cache
    assert (speech / "LJSpeech-1.1" / "metadata.csv").is_file() and left.exists()
    after = sh(["python", "scripts/repro_guard.py", "after"], project).stdout
    assert f"removed {left.relative_to(project)} (left by a killed run)" in after
    assert not left.exists()


def test_a_full_cache_is_refused_before_and_caught_after(project, tmp_path):
    with tmpfs(tmp_path / "cache", "256k") as cache:
        sh(["dvc", "cache", "dir", "--local", str(cache)], project)
        set_params(project, **{"data.speech.sample.n_clips": 13})
        refused(project, ["dvc", "repro", "download_speech"], f"on {cache} (tmpfs)")
        # -s skips the preflight: DVC then reports the full cache as success
        done = sh(["dvc", "repro", "-s", "download_speech"], project, ok=False)
        assert done.returncode == 0 and "No space left on device" in done.stderr
        guard = sh(["python", "scripts/repro_guard.py", "after"], project, ok=False)
        assert guard.returncode == 2
        (line,) = [x for x in guard.stderr.splitlines() if x.startswith("error: ")]
        assert "output(s) in dvc.lock are not in DVC's cache (" in line
        assert f"it is on {cache} (tmpfs)" in line


def test_make_repro_refuses_an_alias_bomb_before_dvc_reads_it(project):
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(f"a: &a [1]\n{text}b: *a\n")
    done = sh(["python", "scripts/repro_guard.py", "before"], project, ok=False)
    assert done.returncode == 2 and "YAML aliases (*a) are not allowed" in done.stderr

"""A team remote for real: an S3 API server (moto) on 127.0.0.1, two clones.

The project, reproduced at tiny sizes (the session's, tests/conftest.py, copied),
is pushed to the S3 remote and to a bare git repository; a teammate's fresh clone
pulls and finds nothing to recompute. Experiments travel the same way (`dvc exp push`
/ `dvc exp pull`). A broken remote: DVC's own ERROR line names the cause.
"""

import hashlib
import json
import os
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from helpers import copy_reproduced, tool_env

BUCKET = "team"
NO_FILE = os.path.join(tempfile.gettempdir(), "hw2-tests-no-aws-config")


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free loopback port with one bucket; yields its URL."""
    boto3 = pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def env() -> dict:
    clean = {k: v for k, v in tool_env().items() if not k.startswith("AWS_")}
    return {
        **clean,
        # no ~/.aws of the person running the tests; a dead endpoint fails at once
        "AWS_SHARED_CREDENTIALS_FILE": NO_FILE,
        "AWS_CONFIG_FILE": NO_FILE,
        "AWS_MAX_ATTEMPTS": "1",
    }


def sh(cmd: list[str], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if ok:
        assert proc.returncode == 0, (
            f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def credentials(repo: Path, remote: str = "team") -> None:
    """What each teammate does once: keys in .dvc/config.local, never committed."""
    for key in ("access_key_id", "secret_access_key"):
        sh(["dvc", "remote", "modify", "--local", remote, key, "testing"], repo)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return sh(["dvc", *args], repo, ok=False)


@pytest.fixture(scope="module")
def team(tmp_path_factory, s3, tiny_reproduced) -> dict[str, Path]:
    """origin (reproduced, pushed), hub.git (bare) and a teammate's pulled clone."""
    base = tmp_path_factory.mktemp("team")
    origin, hub, mate = base / "origin", base / "hub.git", base / "mate"
    copy_reproduced(tiny_reproduced.root, origin)  # on branch main
    sh(["dvc", "remote", "add", "-d", "team", f"s3://{BUCKET}/hw2"], origin)
    sh(["dvc", "remote", "modify", "team", "endpointurl", s3], origin)
    credentials(origin)
    sh(["git", "commit", "-qam", "team remote"], origin)
    pushed = dvc(origin, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed" in pushed.stdout
    sh(["git", "init", "-q", "--bare", str(hub)], base)
    sh(["git", "remote", "add", "origin", str(hub)], origin)
    sh(["git", "push", "-q", "origin", "main"], origin)

    sh(["git", "clone", "-q", "-b", "main", str(hub), str(mate)], base)
    credentials(mate)
    pulled = dvc(mate, "pull")
    assert pulled.returncode == 0, pulled.stderr
    return {"origin": origin, "hub": hub, "mate": mate}


@pytest.mark.e2e
def test_config_local_holds_the_keys_and_stays_out_of_git(team):
    origin = team["origin"]
    assert "testing" in (origin / ".dvc" / "config.local").read_text()
    assert "testing" not in (origin / ".dvc" / "config").read_text()
    tracked = sh(["git", "ls-files"], origin).stdout.split()
    assert ".dvc/config" in tracked and ".dvc/config.local" not in tracked


@pytest.mark.e2e
def test_pulled_clone_is_clean_and_repro_is_a_no_op(team):
    origin, mate = team["origin"], team["mate"]
    for out in ("data/images/octmnist.npz", "data/models/cnn.pt"):
        assert md5(mate / out) == md5(origin / out), out
    assert json.loads(sh(["dvc", "status", "--json"], mate).stdout) == {}
    out = sh(["dvc", "repro"], mate).stdout
    assert "Running stage" not in out, out
    assert "Stage 'train_cnn' didn't change, skipping" in out


@pytest.mark.e2e
def test_ci_recipe_pulls_what_is_unchanged_and_runs_the_rest(team, tmp_path):
    """pr.yml's `dvc repro --pull --allow-missing` in a clone that has nothing."""
    ci = tmp_path / "ci"
    sh(["git", "clone", "-q", "-b", "main", str(team["hub"]), str(ci)], tmp_path)
    credentials(ci)
    params = yaml.safe_load((ci / "params.yaml").read_text())
    params["cnn"]["epochs"] = 1  # the change under review: the CNN only
    (ci / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh(["dvc", "repro", "--pull", "--allow-missing"], ci).stdout
    assert "Running stage 'download_images'" not in out, out
    assert "Running stage 'train_cnn'" in out and "Running stage 'evaluate_cnn'" in out
    origin = team["origin"] / "data" / "images" / "octmnist.npz"
    assert md5(ci / "data" / "images" / "octmnist.npz") == md5(origin)


@pytest.mark.e2e
def test_experiment_travels_through_git_and_s3(team):
    origin, mate = team["origin"], team["mate"]
    sh(["dvc", "exp", "run", "-n", "lr-small", "-S", "lr=0.001"], origin)
    model = md5(origin / "data" / "models" / "cnn.pt")
    metrics = json.loads((origin / "metrics" / "cnn.json").read_text())
    sh(["dvc", "exp", "push", "origin", "lr-small"], origin)

    sh(["dvc", "exp", "pull", "origin", "lr-small"], mate)
    shown = sh(["dvc", "exp", "show", "--json"], mate).stdout
    assert "lr-small" in shown and "0.001" in shown
    assert md5(mate / "data" / "models" / "cnn.pt") != model  # still the baseline
    # only S3 has the model: exp pull fetched it into the teammate's own cache
    sh(["dvc", "exp", "apply", "lr-small"], mate)
    assert md5(mate / "data" / "models" / "cnn.pt") == model
    assert json.loads((mate / "metrics" / "cnn.json").read_text()) == metrics
    assert yaml.safe_load((mate / "params.yaml").read_text())["lr"] == 0.001
    assert json.loads(sh(["dvc", "status", "--json"], mate).stdout) == {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("url", "endpoint", "keys", "words"),
    [
        ("s3://no-such-bucket/hw2", None, True, "The specified bucket does not exist"),
        (f"s3://{BUCKET}/hw2", "dead", True, "Could not connect to the endpoint URL"),
        (f"s3://{BUCKET}/hw2", None, False, "Unable to locate credentials"),
    ],
    ids=["missing-bucket", "wrong-endpoint", "no-credentials"],
)
def test_broken_remote_is_named_by_dvc(team, s3, url, endpoint, keys, words):
    """What README and docs/team.md promise of plain `dvc push`: a non-zero exit
    and an ERROR line that names the cause (no wrapper of ours)."""
    origin = team["origin"]
    name = "broken"
    # all in .dvc/config.local, so that removing it leaves no half a remote
    sh(["dvc", "remote", "add", "--local", "-f", name, url], origin)
    endpoint = f"http://127.0.0.1:{free_port()}" if endpoint == "dead" else s3
    sh(["dvc", "remote", "modify", "--local", name, "endpointurl", endpoint], origin)
    if keys:
        credentials(origin, name)
    try:  # the remote holds nothing yet: push tries every output
        proc = dvc(origin, "push", "-r", name)
        assert proc.returncode != 0, (proc.stdout, proc.stderr)
        first = proc.stderr.strip().splitlines()[0]
        assert first.startswith("ERROR:") and words in first, proc.stderr
    finally:
        sh(["dvc", "remote", "remove", "--local", name], origin)

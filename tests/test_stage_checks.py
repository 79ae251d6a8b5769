"""Each stage's refusals are one check (hw2.core.stage.CHECKS) that the stage and
preflight both run, and params.yaml is read as DVC reads it (issue 27)."""

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import yaml
from dvc.utils.serialize._yaml import parse_yaml as dvc_parse_yaml
from helpers import ROOT, TINY, copy_reproduced, tool_env, with_params, write_params
from test_dag import STAGES, RecordingParams, import_closure

from hw2.core import resources, stage
from hw2.core.errors import Hw2Error, ParamError
from hw2.core.params import SCHEMA, Params, load_params, parse_yaml
from hw2.core.stage import CHECKS, check_stage, read_config
from hw2.pipeline import preflight
from hw2.pipeline.dvc import overlap

PARAMS = with_params(yaml.safe_load((ROOT / "params.yaml").read_text()), **TINY)
DAG = STAGES

# --- params.yaml as DVC reads it ---------------------------------------------

TRICKY = "a: 010\nb: 1e-3\nc: 1:30\nd: off\ne: yes\nf: ~\ng: 0x10\nh: .inf\ni: 0o10\n"


def test_the_reader_agrees_with_dvcs_own_parse():
    ours, dvcs = parse_yaml(TRICKY), dvc_parse_yaml(TRICKY, "params.yaml")
    assert ours == dvcs and list(map(type, ours.values())) == list(
        map(type, dvcs.values())
    )
    assert ours["a"] == 10 and ours["b"] == 0.001 and ours["c"] == "1:30"
    assert ours["d"] == "off" and ours["e"] == "yes"


def _typed(tree):
    if isinstance(tree, dict):
        return {k: _typed(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_typed(v) for v in tree]
    return (type(tree).__name__, tree)


def test_the_repository_params_read_as_dvc_reads_them():
    text = (ROOT / "params.yaml").read_text()
    ours = _typed(load_params(ROOT / "params.yaml").data)
    assert ours == _typed(dvc_parse_yaml(text, "p"))
    # the YAML 1.1 reading the results were made with gives the same values
    assert ours == _typed(yaml.safe_load(text))


def test_what_the_stage_uses_is_what_dvc_records(tmp_path):
    path = write_params(tmp_path, PARAMS)
    text = path.read_text()
    text = re.sub(r"(?m)^lr: .*$", "lr: 1e-3", text).replace("seed: 42", "seed: 010")
    path.write_text(text)
    config = read_config("train_cnn", load_params(path))
    recorded = dvc_parse_yaml(text, "params.yaml")
    assert (config.lr, config.seed) == (recorded["lr"], recorded["cnn"]["seed"])
    assert (config.lr, config.seed) == (0.001, 10)


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        (
            "maxpool: true",
            "maxpool: off",
            "cnn.maxpool must be true or false, got 'off'",
        ),
        ("epochs: 2", "epochs: 1:30", "cnn.epochs must be an integer >= 1"),
    ],
)
def test_a_value_dvc_reads_as_text_is_refused_in_one_line(tmp_path, old, new, line):
    path = write_params(tmp_path, PARAMS)
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(ParamError) as caught:
        read_config("train_cnn", load_params(path))
    assert line in str(caught.value) and "\n" not in str(caught.value)


def test_one_module_parses_yaml():
    parsing = re.compile(r"^\s*(import|from) (yaml|ruamel)\b|\byaml\.")
    found = []
    for folder in ("src", "stages", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, text in enumerate(path.read_text().splitlines(), 1):
                code = text.split("#")[0]
                if parsing.search(
                    code.replace("dvc.yaml", "").replace("params.yaml", "")
                ):
                    found.append(f"{path.relative_to(ROOT)}:{number}")
    assert {f.split(":")[0] for f in found} == {"src/hw2/core/params.py"}, found


# --- one check per stage --------------------------------------------------------


def test_every_stage_but_preflight_has_a_check():
    assert set(CHECKS) == set(DAG) - {"preflight"}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_a_checks_modules_are_its_stages_and_preflights_deps(name):
    check = CHECKS[name]
    named = [check.config.partition(":")[0]] if check.config else []
    named += ["hw2.core.device"] * check.device
    named += ["hw2.asr.distributed"] * check.processes
    named += ["hw2.core.download"] * bool(check.download)
    files = {"src/" + m.replace(".", "/") + ".py" for m in named}
    assert files <= import_closure(ROOT / f"stages/{name}.py")
    # preflight runs every check: its dvc.yaml deps hold each check's modules
    preflight_deps = DAG["preflight"]["deps"]
    assert all(any(overlap(f, d) for d in preflight_deps) for f in files)


def _first_key(name: str) -> str | None:
    """The first key stage `name`'s params reading reads (a wrong type there)."""
    params = RecordingParams(PARAMS)
    read_config(name, params)
    return min(params.read) if params.read else None


def faults(name: str, server) -> dict[str, tuple[dict, dict]]:
    """Every way stage `name`'s check can refuse, from its CHECKS entry:
    kind -> (params changes, environment)."""
    check = CHECKS[name]
    out: dict[str, tuple[dict, dict]] = {
        "disk": ({}, {}),  # free_bytes patched to 0 below
        "memory": ({}, {}),
    }
    key = _first_key(name)
    if key:
        out["param"] = ({key: ["not", "a", "value"]}, {})
    if check.device:
        out["device"] = ({"device": "cuda"}, {})
    if check.processes:
        out["nproc abc"] = ({}, {"HW2_NPROC": "abc"})
        out["nproc 3"] = ({}, {"HW2_NPROC": "3"})
    if check.download:
        section = check.download.section
        full = {f"{section}.source": "full", f"{section}.url": server.url("file")}
        algorithm = check.download.algorithm
        wrong = hashlib.new(algorithm, b"other").hexdigest()
        out["checksum"] = ({**full, f"{section}.{algorithm}": wrong}, {})
        out["space in url"] = ({**full, f"{section}.url": server.url("a b")}, {})
        served = hashlib.new(algorithm, b"served bytes").hexdigest()
        out["truncated"] = ({**full, f"{section}.{algorithm}": served}, {})
        out["unreachable"] = (
            {**full, f"{section}.url": "http://127.0.0.1:9/file"},
            {},
        )
    return out


def _files(root: Path) -> dict[str, bytes]:
    """Every file but the downloads folder's (a cut download stays to resume)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_relative_to(root / stage.DOWNLOADS)
    }


class _Names:
    """A stand-in for http_server where only the fault's names matter."""

    @staticmethod
    def url(name: str) -> str:
        return name


CASES = [(n, k) for n in sorted(CHECKS) for k in faults(n, _Names)]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_stage_refusal_is_a_preflight_refusal(
    name, kind, http_server, tmp_path, monkeypatch
):
    (http_server.root / "file").write_bytes(b"served bytes")
    http_server.cut_after = 4 if kind == "truncated" else None
    changes, environ = faults(name, http_server)[kind]
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy2(ROOT / "dvc.yaml", root / "dvc.yaml")
    for out in stage.outputs(DAG[name]):  # what DVC would delete: must stay
        (root / out).parent.mkdir(parents=True, exist_ok=True)
        (root / out).write_bytes(f"kept {out}".encode())
    params = Params(with_params(PARAMS, **changes), known=SCHEMA)
    for var in ("HW2_NPROC", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    for var, value in environ.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    if kind == "disk":
        monkeypatch.setattr(resources, "free_bytes", lambda path: 0)
    if kind == "memory":
        monkeypatch.setattr(resources, "available_memory", lambda: 0)
    before = _files(root)
    try:
        check_stage(name, params, root, DAG)
    except Hw2Error as exc:
        refused = str(exc)
    else:
        refused = None
    if refused is None:
        assert kind in ("disk", "memory"), f"{name} accepts {kind}"
        return  # nothing to write or hold: nothing to refuse
    assert "\n" not in refused and _files(root) == before
    shutil.rmtree(root / stage.DOWNLOADS, ignore_errors=True)  # a fresh attempt
    monkeypatch.setattr(preflight, "pending", lambda *a: {name: "test"})
    monkeypatch.setattr(preflight, "cache_dir", lambda root: root / ".dvc" / "cache")
    with pytest.raises(Hw2Error) as caught:
        preflight.run(root, params)
    if kind == "disk":  # preflight's sum over the stages to run speaks first
        assert "needs about" in str(caught.value)
    else:
        assert str(caught.value) == refused
    assert _files(root) == before


def test_a_checksum_refusal_names_url_expected_and_actual(http_server, tmp_path):
    (http_server.root / "file").write_bytes(b"served bytes")
    changes, _ = faults("download_images", http_server)["checksum"]
    params = Params(with_params(PARAMS, **changes), known=SCHEMA)
    with pytest.raises(Hw2Error) as caught:
        check_stage("download_images", params, tmp_path, DAG)
    line = str(caught.value)
    expected = changes["data.images.md5"]
    actual = hashlib.md5(b"served bytes").hexdigest()
    assert http_server.url("file") in line and expected in line and actual in line
    assert not list((tmp_path / "data" / "downloads").iterdir())  # nothing kept


def test_a_url_with_a_space_is_one_line_not_a_traceback(http_server, tmp_path):
    changes, _ = faults("download_images", http_server)["space in url"]
    params = Params(with_params(PARAMS, **changes), known=SCHEMA)
    with pytest.raises(Hw2Error, match="holds no spaces"):
        check_stage("download_images", params, tmp_path, DAG)


def test_a_verified_download_is_only_moved_into_place(http_server, tmp_path):
    served = b"the real file"
    (http_server.root / "file").write_bytes(served)
    changes = {
        "data.images.source": "full",
        "data.images.url": http_server.url("file"),
        "data.images.md5": hashlib.md5(served).hexdigest(),
    }
    params = Params(with_params(PARAMS, **changes), known=SCHEMA)
    checked = check_stage("download_images", params, tmp_path, DAG)
    assert checked.download == tmp_path / "data" / "downloads" / "octmnist.npz"
    assert checked.download.read_bytes() == served
    again = check_stage("download_images", params, tmp_path, DAG)  # as the stage
    assert again.download == checked.download and len(http_server.requests) == 1


# --- through DVC ---------------------------------------------------------------


def sh(cmd: list[str], cwd: Path, **env: str):
    import subprocess

    return subprocess.run(
        cmd, cwd=cwd, env=tool_env(**env), capture_output=True, text=True
    )


KEPT = (
    "data/images/octmnist.npz",
    "metrics/images.json",
    "metrics/images_samples.png",
    "data/models/cnn.pt",
    "data/models/asr.pt",
    "metrics/train_cnn/metrics.json",
    "metrics/train_asr/metrics.json",
)


def refused_by_preflight(project: Path, cmd: list[str], words: str, **env: str):
    before = {p: (project / p).read_bytes() for p in KEPT}
    done = sh(cmd, project, **env)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    assert "failed to reproduce 'preflight'" in out, out[-3000:]
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], out[-3000:]
    assert "Traceback" not in out
    assert {p: (project / p).read_bytes() for p in KEPT} == before


def _set(project: Path, **changes) -> None:
    path = project / "params.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(with_params(data, **changes), sort_keys=False))


@pytest.mark.e2e
def test_refusals_through_dvc_repro_and_exp_run(tiny_reproduced, tmp_path, http_server):
    import torch

    project = copy_reproduced(tiny_reproduced.root, tmp_path / "project")
    (http_server.root / "o.npz").write_bytes(b"not octmnist")
    url = http_server.url("o.npz")
    cases = [
        ({"asr.seed": 43}, {"HW2_NPROC": "3"}, "cannot be shared by 3 processes"),
        ({"asr.seed": 43}, {"HW2_NPROC": "abc"}, "HW2_NPROC must be a whole number"),
        (
            {"data.images.source": "full", "data.images.url": url},
            {},
            "md5 checksum mismatch",
        ),
        (
            {"data.images.source": "full", "data.images.url": url + " x"},
            {},
            "holds no spaces",
        ),
        ({"cnn.maxpool": "off"}, {}, "cnn.maxpool must be true or false, got 'off'"),
    ]
    if not torch.cuda.is_available():
        cases.append(({"device": "cuda"}, {}, "no CUDA device is available"))
    for changes, env, words in cases:
        _set(project, **changes)
        refused_by_preflight(project, ["dvc", "repro"], words, **env)
        assert sh(["git", "checkout", "params.yaml"], project).returncode == 0
        if " " in str(changes.get("data.images.url")):
            continue  # DVC's -S grammar refuses the space itself
        quoted = {k: f"'{v}'" if ":" in str(v) else v for k, v in changes.items()}
        sets = [a for k, v in quoted.items() for a in ("-S", f"{k}={v}")]
        refused_by_preflight(project, ["dvc", "exp", "run", *sets], words, **env)
        assert sh(["git", "checkout", "params.yaml"], project).returncode == 0

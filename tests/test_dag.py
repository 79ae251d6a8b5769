"""dvc.yaml checked against the code. A stage's code deps are its script and the
library folders it imports from: each module of its import closure lies in one of
them (else a change to it would rerun nothing), and none of them is a folder it
does not import from (else a change there would rerun it for nothing). Its params
are exactly the keys its configuration reads. From these, read off dvc.yaml: a
model change leaves the data stages cached and `-S lr` reruns only the CNN branch;
one real `dvc status` on the tiny reproduced project checks the first against DVC.
"""

import ast
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import copy_reproduced, tool_env

from hw2.core import provenance
from hw2.core.params import Params, load_params
from hw2.pipeline import preflight
from hw2.pipeline.checks import stale_stages
from hw2.pipeline.preflight import stage_readers

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]
DATA_STAGES = {"download_images", "download_speech", "preprocess_speech"}
# its stamp's bytes never change: the stages after it rerun only for their own reasons
PREFLIGHT = "preflight"


def _script_imports(path: Path) -> set[str]:
    """hw2 modules that the stage script at `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hw2")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hw2"):
            for alias in node.names:  # `from hw2.images import phantoms`: a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # `from hw2.x import a_function`
        return False


def import_closure(script: Path) -> set[str]:
    """Repository-relative paths of the hw2 source files `script` depends on: the
    closure the resume fingerprint uses, less the packages' __init__ files (they
    hold no code: the wings' are empty, hw2's has the docstring and version)."""
    paths = provenance.import_closure(*_script_imports(script)).values()
    return {str(p.relative_to(ROOT)) for p in paths if p.name != "__init__.py"}


def _within(path: str, dep: str) -> bool:
    return path == dep or path.startswith(dep.rstrip("/") + "/")


def _paths(entries) -> list[str]:
    """Paths of a dvc.yaml list of outputs, deps or params (`path` or `path: {...}`)."""
    return [e if isinstance(e, str) else next(iter(e)) for e in entries or []]


def _outs(stage: dict) -> list[str]:
    return [p for kind in ("outs", "metrics", "plots") for p in _paths(stage.get(kind))]


def _script(name: str) -> str:
    return STAGES[name]["cmd"].split()[2]


def test_a_stage_imports_the_library_of_the_folder_it_runs_in(tmp_path):
    """A queued run (`dvc exp run --queue`) runs in a copy of the project: its
    stages import that copy's src/hw2, not the editable install's (the
    workspace's, which may have changed since the run was queued)."""
    (tmp_path / "src" / "hw2").mkdir(parents=True)
    (tmp_path / "src" / "hw2" / "__init__.py").write_text("")
    for name, stage in STAGES.items():
        python = stage["cmd"].split(" stages/")[0]
        where = f'{python} -c "import hw2; print(hw2.__file__)"'
        out = subprocess.run(
            where, shell=True, cwd=tmp_path, capture_output=True, text=True
        )
        assert out.stdout.strip() == str(tmp_path / "src/hw2/__init__.py"), name


def _library_deps(name: str) -> list[str]:
    return [d for d in STAGES[name]["deps"] if d.startswith("src/")]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_code_deps_cover_its_import_closure(name):
    script = _script(name)
    assert script == f"stages/{name}.py" and script in STAGES[name]["deps"]
    declared = _library_deps(name)
    uncovered = {
        p
        for p in import_closure(ROOT / script)
        if not any(_within(p, d) for d in declared)
    }
    assert uncovered == set(), f"{name} imports these, dvc.yaml does not list them"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_lists_only_library_folders_it_imports_from(name):
    closure = import_closure(ROOT / _script(name))
    for dep in _library_deps(name):
        assert (ROOT / dep).is_dir(), f"{name}: {dep} is not a folder of the library"
        assert any(_within(p, dep) for p in closure), f"{name} imports no {dep}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_data_deps_are_outputs_of_other_stages(name):
    # what links the DAG: every other dep is something a stage before it writes
    outs = {p: other for other in STAGES for p in _outs(STAGES[other])}
    for dep in STAGES[name]["deps"]:
        if not dep.startswith(("src/", "stages", ".dvc/plots/")):
            writers = {o for p, o in outs.items() if _within(dep, p)}
            assert writers and name not in writers, f"{name}: {dep}"


def test_the_report_depends_on_every_plot_template():
    # each file: DVC hashes a folder inside .dvc as empty, so it would never rerun
    templates = {p.relative_to(ROOT).as_posix() for p in ROOT.glob(".dvc/plots/*")}
    assert templates and templates <= set(STAGES["report"]["deps"])


def _reruns(first: set[str]) -> set[str]:
    """The stages `first` and, in turn, those whose deps lie in the outputs of a
    stage that reruns (preflight's stamp never changes: none follow it)."""
    done = set(first)
    while True:
        outs = [p for s in done - {PREFLIGHT} for p in _outs(STAGES[s])]
        more = {
            name
            for name, stage in STAGES.items()
            if any(_within(d, o) for d in stage["deps"] for o in outs)
        }
        if more <= done:
            return done
        done |= more


def _code_change(path: str) -> set[str]:
    return _reruns(
        {n for n, s in STAGES.items() if any(_within(path, d) for d in s["deps"])}
    )


def _param_change(key: str) -> set[str]:
    def reads(stage: dict) -> bool:
        params = stage.get("params") or []
        if any(p == {"params.yaml": None} for p in params):
            return True  # the whole file
        return any(_within(key.replace(".", "/"), p.replace(".", "/")) for p in params)

    return _reruns({n for n, s in STAGES.items() if reads(s)})


@pytest.mark.parametrize(
    ("path", "stages"),
    [
        ("src/hw2/asr/model.py", {"train_asr", "evaluate_asr", "report"}),
        ("src/hw2/oct/model.py", {"train_cnn", "evaluate_cnn", "report"}),
        (
            "src/hw2/attention/mclaurin.py",
            {"train_asr", "evaluate_asr", "bench_attention", "report"},
        ),
        ("src/hw2/attention_bench/bench_outputs.py", {"bench_attention", "report"}),
    ],
)
def test_a_model_change_leaves_the_data_stages_cached(path, stages):
    assert (ROOT / path).is_file()
    assert _code_change(path) == {PREFLIGHT, *stages}
    assert not _code_change(path) & DATA_STAGES


@pytest.mark.parametrize(
    ("key", "stages"),
    [
        ("lr", {"train_cnn", "evaluate_cnn", "report"}),
        ("decoder", {"train_asr", "evaluate_asr", "report"}),
        ("asr.attention", {"train_asr", "evaluate_asr", "report"}),
        ("attention.terms", {"bench_attention", "report"}),
    ],
)
def test_a_param_reruns_only_its_branch(key, stages):
    assert _param_change(key) == {PREFLIGHT, *stages}


@pytest.mark.e2e
def test_dvc_itself_leaves_the_data_stages_cached_after_a_model_change(
    tmp_path, tiny_reproduced
):
    project = copy_reproduced(tiny_reproduced.root, tmp_path / "project")
    with (project / "src/hw2/asr/model.py").open("a") as model:
        model.write("\n# a change to the speech model\n")

    def sh(*cmd: str) -> str:
        return subprocess.run(
            cmd, cwd=project, env=tool_env(), capture_output=True, text=True, check=True
        ).stdout

    changed = {PREFLIGHT, "train_asr", "evaluate_asr"}
    assert set(json.loads(sh("dvc", "status", "--json"))) == changed
    # the preflight (the workspace) and the stale-lock warning (a commit) say why,
    # from DVC's own stages
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert preflight.pending(project, lock) == {
        "train_asr": "src/hw2/asr modified",
        "evaluate_asr": "src/hw2/asr modified",
        "report": "after evaluate_asr",
    }
    sh("git", "commit", "-qam", "the model changed")
    assert stale_stages(project) == {
        PREFLIGHT: "src/hw2 modified",
        "train_asr": "src/hw2/asr modified",
        "evaluate_asr": "src/hw2/asr modified",
    }


class RecordingParams(Params):
    """Params that remember every key read."""

    def __init__(self, data):
        super().__init__(data)
        self.read: set[str] = set()

    def get(self, key, *args, **kwargs):
        self.read.add(key)
        return super().get(key, *args, **kwargs)


@pytest.mark.parametrize("name", sorted(stage_readers()))
def test_stage_params_are_what_its_config_reads(name):
    params = RecordingParams(load_params(ROOT / "params.yaml").data)
    stage_readers()[name](params)
    declared = set(STAGES[name].get("params", []))

    def covered(key: str) -> bool:
        return any(key == d or key.startswith(d + ".") for d in declared)

    assert {k for k in params.read if not covered(k)} == set(), "read, not declared"
    unread = {
        d
        for d in declared
        if not any(k == d or k.startswith(d + ".") for k in params.read)
    }
    assert unread == set(), "declared, never read"

"""dvc.yaml checked against the code: each stage's deps are exactly the library
modules its script imports (transitively), and its params exactly the keys its
configuration reads. Without this a change to an undeclared module reruns nothing.
"""

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from hw2.core import provenance
from hw2.core.params import Params, load_params
from hw2.pipeline.preflight import stage_readers

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]


def _script_imports(path: Path) -> set[str]:
    """hw2 modules that the stage script at `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hw2")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hw2"):
            for alias in node.names:  # `from hw2.oct import phantoms`: a module
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


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_its_import_closure(name):
    stage = STAGES[name]
    script = stage["cmd"].split()[1]
    assert script == f"stages/{name}.py" and script in stage["deps"]
    declared = {d for d in stage["deps"] if d.startswith("src/")}
    assert declared == import_closure(ROOT / script)


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

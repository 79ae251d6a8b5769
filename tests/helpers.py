"""Shared test helpers: set a dotted param, run a stage script as a subprocess."""

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DELETE = ...  # set_param(tree, key, DELETE) removes the key


def set_param(tree: dict, key: str, value: Any) -> dict:
    """Set (or with DELETE remove) the dotted `key` in a params mapping, in place.

    Missing sections on the way are created, so a test can add a key as well as
    change one. Returns the mapping.
    """
    *parents, last = key.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return tree


def with_params(tree: dict, **changes: Any) -> dict:
    """A deep copy of `tree` with dotted keys set: with_params(p, **{"asr.lr": 1})."""
    out = copy.deepcopy(tree)
    for key, value in changes.items():
        set_param(out, key, value)
    return out


def write_params(folder: Path, tree: dict) -> Path:
    """Write `tree` as folder/params.yaml."""
    path = Path(folder) / "params.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


def stage_env(**extra: str) -> dict[str, str]:
    """The environment a stage subprocess runs in: this tree's src, one thread."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "OMP_NUM_THREADS": "1",
        "DVC_NO_ANALYTICS": "1",
        **extra,
    }


def stage_command(name: str, *args: str) -> list[str]:
    """The command line that runs stages/<name>.py with this interpreter."""
    return [sys.executable, str(ROOT / "stages" / f"{name}.py"), *args]


def run_stage(
    name: str, cwd: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess:
    """Run stages/<name>.py in `cwd` to completion; output captured as text."""
    return subprocess.run(
        stage_command(name, *args),
        cwd=cwd,
        env=stage_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )

"""Warnings for the PR comment: numbers that must not be compared as they are.

No DVC command says either: the two sides ran on other data (a `data.*` param in
`dvc params diff`, or what a data stage recorded about its data: catalog.DATA_SHAPE,
plain outputs), or a committed dvc.lock does not belong to its commit's code (a
cmd, param or git-tracked dependency changed without `dvc repro`), which `dvc
status` answers for the workspace only: here it is read from git at each side.
"""

import hashlib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw2.core.params import parse_yaml
from hw2.core.provenance import dvc_dir_md5
from hw2.core.stage import outputs
from hw2.pipeline.catalog import BRANCH_STUDY, DATA_SHAPE, short
from hw2.pipeline.compare import flatten, read_tree
from hw2.pipeline.dvc import RevisionFiles, run
from hw2.pipeline.markdown import cell

PARAMS = "params.yaml"


def _shown(v: Any) -> str:
    if v is None:
        return "absent"
    if isinstance(v, int | float) and not isinstance(v, bool):
        return short(float(v))
    return (
        f"[{', '.join(map(_shown, v[:4]))}{', …' * (len(v) > 4)}]"
        if isinstance(v, list)
        else cell(v)
    )


@dataclass(frozen=True)
class DataChange:
    """What differs about one branch's data: `key old → new` lines."""

    branch: str  # "images" or "speech"
    params: tuple[str, ...]
    shape: tuple[str, ...]

    def warning(self, base: str, shown: int = 4) -> str:
        """One line for the comment: what changed and what it means."""
        parts = list(self.params)
        if self.shape:
            more = len(self.shape) - shown
            listed = ", ".join(self.shape[:shown]) + f" and {more} more" * (more > 0)
            parts.append(f"recorded in `{DATA_SHAPE[self.branch]}`: {listed}")
        return (
            f"The {self.branch} data differ between {cell(base)} and this branch "
            f"({'; '.join(parts)}). The {BRANCH_STUDY[self.branch]} metrics come "
            "from other data on each side: their difference is not this change's "
            "effect alone."
        )


def data_changes(
    params_diff: Mapping[str, Any], base: RevisionFiles, head: RevisionFiles
) -> list[DataChange]:
    """Each branch whose data differ: its `data.<branch>.*` params (other `data.*`
    keys feed both) in `dvc params diff --json`, or its recorded data shape."""
    params: dict[str, list[str]] = {}
    for key, d in (params_diff.get(PARAMS) or {}).items():
        owner = key.split(".")[1] if key.startswith("data.") else None
        for branch in [owner] if owner in DATA_SHAPE else DATA_SHAPE if owner else []:
            text = f"{cell(key)} {_shown(d.get('old'))} → {_shown(d.get('new'))}"
            params.setdefault(branch, []).append(text)
    out = []
    for branch, path in DATA_SHAPE.items():
        old, new = (flatten(read_tree(files, path)) for files in (base, head))
        shape = [
            f"{cell(k)} {_shown(old.get(k))} → {_shown(new.get(k))}"
            for k in dict.fromkeys([*old, *new])
            if old and new and _shown(old.get(k)) != _shown(new.get(k))
        ]
        if params.get(branch) or shape:
            out.append(DataChange(branch, tuple(params.get(branch, [])), tuple(shape)))
    return out


def _git(root: Path, rev: str, path: str) -> bytes | None:
    # a folder (a git tree) reads as absent: DVC hashes it its own way
    cmd = ["git", "cat-file", "blob", f"{rev}:{path}"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _why(
    root: Path,
    rev: str,
    stage: Mapping,
    locked: Mapping | None,
    tracked: set[str],
    made: set[str],
    hashes: dict[str, str],
) -> str:
    if locked is None:
        return "never run"
    if stage.get("cmd") != locked.get("cmd"):
        return "cmd changed"
    deps = {d["path"]: d.get("md5") for d in locked.get("deps") or []}
    declared = [
        d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps") or []
    ]
    if set(declared) != set(deps):
        return "deps differ"
    for path in declared:  # the git-tracked files: data follow from them
        content = _git(root, rev, path)
        if content is not None and hashlib.md5(content).hexdigest() != deps[path]:
            return f"{cell(path)} changed"
    for path in declared:  # code folders, hashed as DVC hashes them
        if any(_inside(path, out) for out in made):
            continue  # a folder among the outputs is data, judged by its producer
        inside = sorted(t for t in tracked if _inside(t, path) and t != path)
        if inside and str(deps[path] or "").endswith(".dir"):
            if path not in hashes:  # stages share folders: each read once
                hashes[path] = dvc_dir_md5(
                    (t[len(path) + 1 :], _git(root, rev, t) or b"") for t in inside
                )
            if hashes[path] != deps[path]:
                return f"{cell(path)} changed"
    params = parse_yaml(_git(root, rev, PARAMS) or b"") or {}
    recorded = (locked.get("params") or {}).get(PARAMS) or {}
    for key in [k for k in stage.get("params") or [] if isinstance(k, str)]:
        node = params
        for part in key.split("."):
            node = node.get(part, KeyError) if isinstance(node, Mapping) else KeyError
        if node is KeyError or recorded.get(key, KeyError) != node:
            return f"param {cell(key)} changed"
    return ""


def stale_stages(root: str | Path, rev: str = "HEAD") -> dict[str, str]:
    """Stages whose dvc.lock entry at `rev` does not match that commit's code."""
    root = Path(root)
    dag = parse_yaml(_git(root, rev, "dvc.yaml") or b"") or {}
    lock = (parse_yaml(_git(root, rev, "dvc.lock") or b"") or {}).get("stages") or {}
    listing = ["git", "ls-tree", "-r", "--name-only", rev]
    tracked = set(run(listing, root, check=False).split())
    stages = dag.get("stages") or {}
    made = {out for stage in stages.values() for out in outputs(stage)}
    hashes: dict[str, str] = {}
    whys = {
        name: _why(root, rev, stage, lock.get(name), tracked, made, hashes)
        for name, stage in stages.items()
    }
    return {name: why for name, why in whys.items() if why}


def stale_warnings(root: str | Path, base: str) -> list[str]:
    """One line for each side (this branch's HEAD, `base`) whose dvc.lock is stale."""
    sides = [
        (
            "HEAD",
            "in this branch",
            "Its committed metrics are not what its code "
            "gives: run `dvc repro` and commit dvc.lock and metrics/.",
        ),
        (
            base,
            f"at {cell(base)}",
            "The base's metrics are older than its code, "
            "so part of the difference may not be this change's.",
        ),
    ]
    out = []
    for rev, where, fix in sides:
        if stale := stale_stages(root, rev):
            listed = "; ".join(f"{cell(n)}: {why}" for n, why in sorted(stale.items()))
            out.append(f"The dvc.lock committed {where} does not match its code: ")
            out[-1] += f"{listed}. {fix}"
    return out

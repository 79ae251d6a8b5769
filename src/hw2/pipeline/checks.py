"""Warnings for the PR comment that no DVC command gives: the two sides ran on
other data, or a committed dvc.lock does not belong to its commit's code (`dvc
status` tells it of the workspace only: why_stale reads it from git too).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hw2.core.stage import outputs
from hw2.pipeline.catalog import BRANCH_STUDY, DATA_SHAPE, short
from hw2.pipeline.compare import read_tree
from hw2.pipeline.dvc import GitRev, Workspace, inside, paths
from hw2.pipeline.markdown import cell
from hw2.pipeline.runs import PARAMS, flatten


def shown(v: Any) -> str:
    """A quoted param or data value as one cell: numbers as written, lists cut."""
    if v is None or isinstance(v, bool):
        return "absent" if v is None else str(v).lower()
    if isinstance(v, int | float):
        return short(float(v))
    if isinstance(v, list):
        return f"[{', '.join(map(shown, v[:4]))}{', …' * (len(v) > 4)}]"
    return cell(v)


def data_warnings(
    params_diff: Mapping[str, Any], base: Workspace, head: Workspace
) -> dict[str, str]:
    """Each branch whose data differ, with one line saying what and what it means:
    its `data.<branch>.*` params in `dvc params diff --json` (other `data.*` keys
    feed both), or its recorded data shape (four changes shown)."""
    out = {}
    for branch, path in DATA_SHAPE.items():
        others = set(DATA_SHAPE) - {branch}
        parts = [
            f"{cell(key)} {shown(d.get('old'))} → {shown(d.get('new'))}"
            for key, d in (params_diff.get(PARAMS) or {}).items()
            if key.startswith("data.") and key.split(".")[1] not in others
        ]
        old, new = (flatten(read_tree(files, path)) for files in (base, head))
        shape = [
            f"{cell(k)} {shown(old.get(k))} → {shown(new.get(k))}"
            for k in dict.fromkeys([*old, *new])
            if old and new and shown(old.get(k)) != shown(new.get(k))
        ]
        if shape:
            more = len(shape) - 4
            listed = ", ".join(shape[:4]) + f" and {more} more" * (more > 0)
            parts.append(f"recorded in `{path}`: {listed}")
        if parts:
            out[branch] = (
                f"The {branch} data differ between {cell(base.rev)} and this branch "
                f"({'; '.join(parts)}). The {BRANCH_STUDY[branch]} metrics come "
                "from other data on each side: their difference is not this "
                "change's effect alone."
            )
    return out


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data.get(part, KeyError) if isinstance(data, Mapping) else KeyError
    return data


def why_stale(
    stage: Mapping, locked: Mapping | None, data: Mapping, files: Workspace, made: set
) -> str:
    """Why a stage's dvc.lock entry `locked` no longer matches its dvc.yaml entry,
    params.yaml's `data` and its deps in `files` ('' when it matches: `dvc status`,
    for a git revision too); folders among `made`, outputs, are judged by makers."""
    if locked is None:
        return "never run"
    if stage.get("cmd") != locked.get("cmd"):
        return "cmd changed"
    deps = {d["path"]: d.get("md5") for d in locked.get("deps") or []}
    if set(paths(stage.get("deps"))) != set(deps):
        return "deps differ"
    recorded = (locked.get("params") or {}).get(PARAMS) or {}
    for key in [k for k in stage.get("params") or [] if isinstance(k, str)]:
        if recorded.get(key, KeyError) != _lookup(data, key):
            return f"param {key} changed"
    for path, md5 in deps.items():
        folder = str(md5).endswith(".dir")  # a code folder, hashed as DVC hashes it
        if not md5 or (folder and any(inside(path, out) for out in made)):
            continue
        found = files.folder_md5(path) if folder else files.md5(path)
        if found is None and files.whole:
            return f"{path} is gone"
        if found not in (None, md5):
            return f"{path} changed"
    return ""


def stale_stages(root: str | Path, rev: str = "HEAD") -> dict[str, str]:
    """Stages whose dvc.lock entry at `rev` does not match that commit's code."""
    files = GitRev(root, rev)
    stages = (read_tree(files, "dvc.yaml") or {}).get("stages") or {}
    lock = (read_tree(files, "dvc.lock") or {}).get("stages") or {}
    data = read_tree(files, PARAMS) or {}
    made = {out for s in stages.values() for out in outputs(s)}
    whys = {n: why_stale(s, lock.get(n), data, files, made) for n, s in stages.items()}
    return {n: w for n, w in whys.items() if w}


def stale_warnings(root: str | Path, base: str) -> list[str]:
    """One line for each side (this branch's HEAD, `base`) whose dvc.lock is stale."""
    head = "Its committed metrics are not what its code gives: run `dvc repro` and "
    head += "commit dvc.lock and metrics/."
    old = "The base's metrics are older than its code, so part of the difference "
    old += "may not be this change's."
    out = []
    sides = [("HEAD", "in this branch", head), (base, f"at {cell(base)}", old)]
    for rev, where, fix in sides:
        stale = sorted(stale_stages(root, rev).items())
        if listed := "; ".join(f"{cell(n)}: {cell(w)}" for n, w in stale):
            out.append(f"The dvc.lock committed {where} does not match its code: ")
            out[-1] += f"{listed}. {fix}"
    return out

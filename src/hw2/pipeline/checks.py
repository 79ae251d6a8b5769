"""Warnings for the PR comment that no DVC command gives: the two sides ran on
other data, or a committed dvc.lock does not belong to its commit's code (`dvc
status` tells it of the workspace only: stale_stages asks DVC of a commit too).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dvc.exceptions import DvcException
from dvc.repo import Repo
from dvc.stage import PipelineStage

from hw2.core.errors import Hw2Error
from hw2.pipeline.catalog import BRANCH_STUDY, DATA_SHAPE, short
from hw2.pipeline.compare import read_tree
from hw2.pipeline.dvc import Revision, overlap
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
    params_diff: Mapping[str, Any], base: Revision, head: Revision
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


def why_changed(stage: Any, made: set[str], lock: Mapping, outs: bool = True) -> str:
    """Why `dvc repro` would run a DVC stage, '' when it would not, as `dvc status`
    finds it: not in `lock` (dvc.lock's stages), or its cmd, a param, a dependency
    or (with `outs`) an output changed. Dependencies among `made`, other stages'
    outputs, are judged by their makers."""
    if stage.name not in lock:
        return "never run"
    if stage.cmd_changed:
        return "cmd changed"
    deps = [d for d in stage.deps if not any(overlap(d.def_path, m) for m in made)]
    for entry in deps + (stage.outs if outs else []):
        for path, how in entry.status().items():
            if isinstance(how, dict):  # a params file's: {key: how}
                key, how = next(iter(how.items()))
                path = f"param {key}"
            return f"{path} {how}"
    return ""


def stale_stages(root: str | Path, rev: str = "HEAD") -> dict[str, str]:
    """Stages whose dvc.lock entry at `rev` does not match that commit's code and
    params: `dvc status` of the commit, read from git by DVC (data is in no commit:
    its makers' deps stand for it)."""
    lock = (read_tree(Revision(root, rev), "dvc.lock") or {}).get("stages") or {}
    try:
        with Repo(str(root), rev=rev) as repo:
            stages = [s for s in repo.index.stages if isinstance(s, PipelineStage)]
            made = {out.def_path for stage in stages for out in stage.outs}
            whys = {s.name: why_changed(s, made, lock, outs=False) for s in stages}
    except DvcException as exc:
        raise Hw2Error(f"dvc.yaml at {rev}: {exc}") from exc
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
        if stale := sorted(stale_stages(root, rev).items()):
            listed = "; ".join(f"{cell(n)}: {cell(w)}" for n, w in stale)
            out.append(f"The dvc.lock committed {where} does not match its code: ")
            out[-1] += f"{listed}. {fix}"
    return out

"""Warnings for the PR comment: numbers that must not be compared as they are.

Two things make a metrics diff mislead, and no DVC command says either:

* the two sides ran on other data: a `data.*` param changed (`dvc params diff`),
  or what a data stage recorded about its data (clip count, hours, class counts:
  catalog.DATA_SHAPE, plain outputs rather than metrics) differs;
* a revision's committed dvc.lock does not belong to its code (a stage's cmd,
  params or git-tracked dependency changed and was committed without `dvc
  repro`), so its committed metrics are not what its code gives. `dvc status`
  answers this for the workspace only; here it is read from the commit (git).
"""

import hashlib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hw2.pipeline.catalog import BRANCH_STUDY, DATA_SHAPE, short
from hw2.pipeline.compare import flatten, read_tree
from hw2.pipeline.dvc import RevisionFiles
from hw2.pipeline.markdown import cell

BRANCHES = tuple(DATA_SHAPE)
PARAMS_FILE = "params.yaml"


def _shown(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return short(float(value))
    if isinstance(value, list):
        items = ", ".join(_shown(v) for v in value[:4])
        return f"[{items}{', …' if len(value) > 4 else ''}]"
    return cell(value)


def _text(key: str, old: Any, new: Any) -> str:
    old_s, new_s = (("absent" if v is None else _shown(v)) for v in (old, new))
    return f"{cell(key)} {old_s} → {new_s}"


@dataclass(frozen=True)
class DataChange:
    """What differs about one branch's data between the base and here."""

    branch: str  # "images" or "speech"
    params: tuple[str, ...]  # `key` old → new, of data.* params
    shape: tuple[str, ...]  # the same, of what the data stage recorded

    def warning(self, base: str, shown: int = 4) -> str:
        """One line for the comment: what changed and what it means."""
        parts = list(self.params)
        if self.shape:
            listed = ", ".join(self.shape[:shown])
            more = len(self.shape) - shown
            listed += f" and {more} more" if more > 0 else ""
            parts.append(f"recorded in `{DATA_SHAPE[self.branch]}`: {listed}")
        study = BRANCH_STUDY.get(self.branch, self.branch)
        return (
            f"The {self.branch} data differ between `{base}` and this branch "
            f"({'; '.join(parts)}). The {study} metrics come from other data on "
            "each side: their difference is not this change's effect alone."
        )


def data_changes(
    params_diff: Mapping[str, Any], base: RevisionFiles, head: RevisionFiles
) -> list[DataChange]:
    """Each branch whose data differ: its `data.<branch>.*` params (other `data.*`
    keys feed both) in `dvc params diff --json`, or its recorded data shape."""
    params: dict[str, list[str]] = {}
    for key, d in (params_diff.get(PARAMS_FILE) or {}).items():
        if key.startswith("data."):
            owner = key.split(".")[1]
            for branch in [owner] if owner in BRANCHES else BRANCHES:
                params.setdefault(branch, []).append(_text(key, d["old"], d["new"]))
    changes = []
    for branch in BRANCHES:
        old, new = (flatten(read_tree(f, DATA_SHAPE[branch])) for f in (base, head))
        shape = [
            _text(k, old.get(k), new.get(k))
            for k in dict.fromkeys([*old, *new])
            if old and new and _shown(old.get(k)) != _shown(new.get(k))
        ]
        if params.get(branch) or shape:
            changes.append(
                DataChange(branch, tuple(params.get(branch, ())), tuple(shape))
            )
    return changes


def _git_show(root: Path, rev: str, path: str) -> bytes | None:
    proc = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True
    )
    return proc.stdout if proc.returncode == 0 else None


def _why_stale(root: Path, rev: str, stage: Mapping, locked: Mapping | None) -> str:
    if locked is None:
        return "never run"
    if stage.get("cmd") != locked.get("cmd"):
        return "cmd changed"
    deps = {d["path"]: d.get("md5") for d in locked.get("deps") or []}
    declared = [
        str(d if isinstance(d, str) else next(iter(d))) for d in stage.get("deps") or []
    ]
    if set(declared) != set(deps):
        return "deps differ"
    for path in declared:
        content = _git_show(root, rev, path)  # git-tracked files; data follows
        if content is not None and hashlib.md5(content).hexdigest() != deps[path]:
            return f"{cell(path)} changed"
    params = yaml.safe_load(_git_show(root, rev, PARAMS_FILE) or b"") or {}
    recorded = (locked.get("params") or {}).get(PARAMS_FILE) or {}
    for key in [k for k in stage.get("params") or [] if isinstance(k, str)]:
        node = params
        for part in key.split("."):
            node = node.get(part, KeyError) if isinstance(node, Mapping) else KeyError
        if recorded.get(key, KeyError) != node or node is KeyError:
            return f"param {cell(key)} changed"
    return ""


def stale_stages(root: str | Path, rev: str = "HEAD") -> dict[str, str]:
    """Stages whose committed dvc.lock entry does not match the code at `rev`: cmd,
    declared deps, the md5 of each git-tracked dep, params.yaml's values."""
    root = Path(root)
    dag = yaml.safe_load(_git_show(root, rev, "dvc.yaml") or b"") or {}
    lock = (yaml.safe_load(_git_show(root, rev, "dvc.lock") or b"") or {}).get(
        "stages"
    ) or {}
    stale = {}
    for name, stage in (dag.get("stages") or {}).items():
        why = _why_stale(root, rev, stage, lock.get(name))
        if why:
            stale[name] = why
    return stale


def stale_warnings(root: str | Path, base: str) -> list[str]:
    """The committed dvc.lock of this branch (HEAD) and of `base`, where stale."""
    out = []
    for rev, where, fix in (
        (
            "HEAD",
            "in this branch",
            "Its committed metrics are not what its code "
            "gives: run `dvc repro` and commit dvc.lock and metrics/.",
        ),
        (
            base,
            f"at `{base}`",
            "The base's metrics are older than its code, so "
            "part of the difference may not be this change's.",
        ),
    ):
        stale = stale_stages(root, rev)
        if stale:
            listed = "; ".join(f"{cell(n)}: {why}" for n, why in sorted(stale.items()))
            out.append(
                f"The dvc.lock committed {where} does not match its code: {listed}. {fix}"
            )
    return out

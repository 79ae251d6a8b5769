"""Warnings for a pull-request comment: numbers that must not be compared as is.

Two things make a metrics diff mislead: the base and the branch ran on different
data (another source, sample size, class mix, or anything else under `data.*`,
or data whose recorded shape differs: clip count, hours, frames, class counts),
or a revision's committed dvc.lock does not belong to its code (someone changed
a stage, a library module or a param and committed without `dvc repro`, so its
committed metrics are not what its code produces). Both are read from git and
the working tree alone, without data or a cache, so they work before
`dvc repro` as well as after.
"""

import hashlib
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hw2.core.provenance import dvc_dir_md5
from hw2.pipeline.catalog import BRANCH_STUDY, DATA_SHAPE, short
from hw2.pipeline.runs import flatten

BRANCHES = tuple(DATA_SHAPE)
PARAMS_FILE = "params.yaml"


def git_show(root: Path, rev: str, path: str) -> bytes | None:
    """A file's bytes at `rev`, or None where it does not exist there."""
    proc = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True
    )
    return proc.stdout if proc.returncode == 0 else None


def _yaml_at(root: Path, rev: str | None, path: str) -> Any:
    """Parsed YAML at `rev` (None: the working tree); None where absent."""
    if rev is None:
        file = root / path
        return yaml.safe_load(file.read_text()) if file.is_file() else None
    raw = git_show(root, rev, path)
    return None if raw is None else yaml.safe_load(raw)


def _flat(tree: Any) -> dict[str, Any]:
    return flatten(tree) if isinstance(tree, Mapping) else {}


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return f"`{value}`"
    if isinstance(value, int | float):
        return short(float(value))
    if isinstance(value, list):
        items = ", ".join(_shown(v).strip("`") for v in value[:4])
        return f"`[{items}{', …' if len(value) > 4 else ''}]`"
    return f"`{value}`"


@dataclass(frozen=True)
class Diff:
    """One value at the base and here (None: absent)."""

    key: str
    old: Any
    new: Any

    def text(self) -> str:
        """`key` old → new, as people read numbers."""
        old = "absent" if self.old is None else _shown(self.old)
        new = "absent" if self.new is None else _shown(self.new)
        return f"`{self.key}` {old} → {new}"


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Diff]:
    """(key, old, new) for every key whose shown value differs (None: absent)."""
    out = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key), new.get(key)
        if (a is None) != (b is None) or (a is not None and _shown(a) != _shown(b)):
            out.append(Diff(key, a, b))
    return out


@dataclass(frozen=True)
class DataChange:
    """What differs about one branch's data between the base and here."""

    branch: str  # "images" or "speech"
    params: tuple[Diff, ...]  # data.* params
    shape: tuple[Diff, ...]  # what the data stage recorded (catalog.DATA_SHAPE)

    def warning(self, base: str, shown: int = 4) -> str:
        """One line for the comment: what changed and what it means."""
        parts = [d.text() for d in self.params]
        if self.shape:
            listed = ", ".join(d.text() for d in self.shape[:shown])
            more = len(self.shape) - shown
            listed += f" and {more} more" if more > 0 else ""
            parts.append(f"recorded in `{DATA_SHAPE[self.branch]}`: {listed}")
        study = BRANCH_STUDY.get(self.branch, self.branch)
        return (
            f"The {self.branch} data differ between `{base}` and this branch "
            f"({'; '.join(parts)}). The {study} metrics come from other data on "
            "each side: their difference is not this change's effect alone."
        )


def _data_params(params: Any) -> dict[str, Any]:
    """`data.*` flattened, the older shared `data.source` read as each branch's."""
    data = dict((params or {}).get("data") or {}) if isinstance(params, Mapping) else {}
    shared = data.pop("source", None)
    flat = {k: v for k, v in _flat({"data": data}).items() if v != {}}
    if shared is not None:
        for branch in BRANCHES:
            flat.setdefault(f"data.{branch}.source", shared)
    return flat


def data_param_changes(base_params: Any, head_params: Any) -> dict[str, list[Diff]]:
    """Changed `data.*` params by the branch they feed; a key under `data` but
    outside `data.images` / `data.speech` feeds both."""
    old, new = _data_params(base_params), _data_params(head_params)
    by_branch: dict[str, list[Diff]] = {}
    for diff in _differences(old, new):
        owner = diff.key.split(".")[1] if diff.key.count(".") >= 2 else ""
        for branch in [owner] if owner in BRANCHES else BRANCHES:
            by_branch.setdefault(branch, []).append(diff)
    return by_branch


def _tree_at(root: Path, rev: str | None, path: str) -> Any:
    """A JSON file at `rev` (None: the working tree); None where absent or bad."""
    if rev is None:
        file = root / path
        raw = file.read_bytes() if file.is_file() else None
    else:
        raw = git_show(root, rev, path)
    try:
        return None if raw is None else json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None


def data_changes(
    root: str | Path, base: str, head: str = "HEAD", workspace: bool = True
) -> list[DataChange]:
    """Each branch whose data differ between `base` and this branch: any
    `data.*` param, or what its data stage recorded about the data (clip count,
    hours, frames; class counts). Read from git and the working tree only."""
    root = Path(root)
    rev = None if workspace else head
    params = data_param_changes(
        _yaml_at(root, base, PARAMS_FILE), _yaml_at(root, rev, PARAMS_FILE)
    )
    changes = []
    for branch in BRANCHES:
        old = _tree_at(root, base, DATA_SHAPE[branch])
        new = _tree_at(root, rev, DATA_SHAPE[branch])
        shape = _differences(_flat(old), _flat(new)) if old and new else []
        if params.get(branch) or shape:
            changes.append(
                DataChange(branch, tuple(params.get(branch, ())), tuple(shape))
            )
    return changes


def _lookup(params: Any, dotted: str) -> tuple[bool, Any]:
    node = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _stage_params(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(file, key) pairs a dvc.yaml stage declares."""
    pairs = []
    for entry in stage.get("params") or []:
        if isinstance(entry, str):
            pairs.append((PARAMS_FILE, entry))
        else:
            for file, keys in entry.items():
                pairs += [(file, key) for key in keys or []]
    return pairs


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _why_stale(
    root: Path,
    rev: str,
    stage: Mapping[str, Any],
    locked: Mapping[str, Any] | None,
    tracked: set[str],
    made: set[str],
    hashes: dict[str, str],
) -> str | None:
    if locked is None:
        return "never run"
    if stage.get("cmd") != locked.get("cmd"):
        return "cmd changed"
    deps = {d["path"]: d for d in locked.get("deps") or []}
    declared = [
        d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps") or []
    ]
    if set(declared) != set(deps):
        diff = [f"+{p}" for p in sorted(set(declared) - set(deps))]
        diff += [f"-{p}" for p in sorted(set(deps) - set(declared))]
        return f"deps differ ({', '.join(diff[:3])}{', ...' * (len(diff) > 3)})"
    for path in sorted(tracked.intersection(declared)):
        content = git_show(root, rev, path)
        if content is not None and hashlib.md5(content).hexdigest() != deps[path].get(
            "md5"
        ):
            return f"{path} changed"
    code = [p for p in declared if not any(_inside(p, out) for out in made)]
    for path in sorted(code):  # code folders, hashed as DVC does
        inside = sorted(t for t in tracked if t.startswith(path.rstrip("/") + "/"))
        if inside and str(deps[path].get("md5", "")).endswith(".dir"):
            if path not in hashes:  # stages share folders: each read once
                hashes[path] = dvc_dir_md5(
                    (t[len(path) + 1 :], git_show(root, rev, t) or b"") for t in inside
                )
            if hashes[path] != deps[path]["md5"]:
                return f"{path} changed"
    files: dict[str, Any] = {}
    for file, key in _stage_params(stage):
        if file not in files:
            files[file] = _yaml_at(root, rev, file)
        found, value = _lookup(files[file], key)
        recorded = (locked.get("params") or {}).get(file) or {}
        if not found or key not in recorded or recorded[key] != value:
            return f"param {key} changed"
    return None


def stale_stages(root: str | Path, rev: str = "HEAD") -> dict[str, str]:
    """Stages whose committed dvc.lock entry does not match the code at `rev`.

    Compares each stage of dvc.yaml with dvc.lock at the same commit: its cmd,
    its declared deps, the md5 of every dep that git tracks (code, stage scripts,
    git-tracked metrics) and its params' values. Data outputs are not in git and
    are not checked: they follow from the rest.
    """
    root = Path(root)
    dag = _yaml_at(root, rev, "dvc.yaml") or {}
    lock = (_yaml_at(root, rev, "dvc.lock") or {}).get("stages") or {}
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev],
        cwd=root,
        capture_output=True,
        text=True,
    )
    tracked = set(listing.stdout.split()) if listing.returncode == 0 else set()
    stages = dag.get("stages") or {}
    made = {  # outputs: a folder among them is data, judged by its producer
        o if isinstance(o, str) else next(iter(o))
        for s in stages.values()
        for kind in ("outs", "metrics", "plots")
        for o in s.get(kind) or []
    }
    stale, hashes = {}, {}
    for name, stage in stages.items():
        why = _why_stale(root, rev, stage, lock.get(name), tracked, made, hashes)
        if why:
            stale[name] = why
    return stale


def _stale_line(stale: Mapping[str, str], where: str, fix: str) -> str:
    listed = "; ".join(f"`{name}`: {why}" for name, why in sorted(stale.items()))
    return f"The dvc.lock committed {where} does not match its code: {listed}. {fix}"


def comment_warnings(
    root: str | Path,
    base: str,
    head: str = "HEAD",
    workspace: bool = True,
    data: list[DataChange] | None = None,
) -> list[str]:
    """Every warning for the PR comment comparing `base` with this branch.

    Data: base's params.yaml and recorded data shapes against the workspace's
    (or `head`'s with workspace=False), as the comment's numbers are the
    workspace's after `dvc repro`; `data` passes them in when already read.
    Stale metrics: the committed dvc.lock of `head` and of `base`.
    """
    root = Path(root)
    if data is None:
        data = data_changes(root, base, head, workspace)
    warnings = [change.warning(base) for change in data]
    stale = stale_stages(root, head)
    if stale:
        warnings.append(
            _stale_line(
                stale,
                "in this branch",
                "Its committed metrics are not what its code gives: run "
                "`dvc repro` and commit dvc.lock and metrics/.",
            )
        )
    stale_base = stale_stages(root, base)
    if stale_base:
        warnings.append(
            _stale_line(
                stale_base,
                f"at `{base}`",
                "The base's metrics are older than its code, so part of the "
                "difference may not be this change's.",
            )
        )
    return warnings

"""Warnings for a pull-request comment: numbers that must not be compared as is.

Two things make a metrics diff mislead: the base and the branch ran on different
data (the sample's synthetic images or clips against the real sets), or a
revision's committed dvc.lock does not belong to its code (someone changed a
stage, a library module or a param and committed without `dvc repro`, so its
committed metrics are not what its code produces). Both are read from git alone,
without data or a cache, so they work before `dvc repro` as well as after.
"""

import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

BRANCHES = ("images", "speech")
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


def data_sources(params: Mapping[str, Any] | None) -> dict[str, str]:
    """{'images': ..., 'speech': ...}: the data each branch ran on ('sample', 'full').

    Reads `data.images.source` / `data.speech.source`, or the older single
    `data.source` that both branches followed.
    """
    data = (params or {}).get("data") or {}
    sources = {}
    for branch in BRANCHES:
        own = (data.get(branch) or {}).get("source")
        value = own if own is not None else data.get("source")
        if value is not None:
            sources[branch] = str(value)
    return sources


def source_warnings(base_params: Any, head_params: Any, base: str) -> list[str]:
    """A line per branch whose metrics come from other data at `base` than here."""
    old, new = data_sources(base_params), data_sources(head_params)
    return [
        f"The {branch} metrics compare different data: `{old[branch]}` at "
        f"`{base}`, `{new[branch]}` in this branch; their difference is not "
        "this change's effect."
        for branch in BRANCHES
        if branch in old and branch in new and old[branch] != new[branch]
    ]


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


def _why_stale(
    root: Path,
    rev: str,
    stage: Mapping[str, Any],
    locked: Mapping[str, Any] | None,
    tracked: set[str],
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
    stale = {}
    for name, stage in (dag.get("stages") or {}).items():
        why = _why_stale(root, rev, stage, lock.get(name), tracked)
        if why:
            stale[name] = why
    return stale


def _stale_line(stale: Mapping[str, str], where: str, fix: str) -> str:
    listed = "; ".join(f"`{name}`: {why}" for name, why in sorted(stale.items()))
    return f"The dvc.lock committed {where} does not match its code: {listed}. {fix}"


def comment_warnings(
    root: str | Path, base: str, head: str = "HEAD", workspace: bool = True
) -> list[str]:
    """Every warning for the PR comment comparing `base` with this branch.

    Data sources: base's params.yaml against the workspace's (or `head`'s with
    workspace=False), as the comment's numbers are the workspace's after
    `dvc repro`. Stale metrics: the committed dvc.lock of `head` and of `base`.
    """
    root = Path(root)
    head_params = _yaml_at(root, None if workspace else head, PARAMS_FILE)
    warnings = source_warnings(_yaml_at(root, base, PARAMS_FILE), head_params, base)
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

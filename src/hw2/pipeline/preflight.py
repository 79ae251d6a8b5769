"""The preflight stage: what would make a stage refuse, found before DVC deletes
any output (docs/reliability.md says why, what it checks and why caching stays
exact). The stages' own checks are hw2.core.stage.check_stage, run here for the
stages about to run, so that a stage refuses nothing preflight lets through.
"""

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import networkx as nx
from dvc.repo import Repo
from dvc.stage import PipelineStage

from hw2.core import footprint, resources
from hw2.core.params import Params, read_yaml
from hw2.core.stage import CHECKS, check_stage, outputs, read_config, writable
from hw2.pipeline.aftercare import cache_dir, sweep
from hw2.pipeline.checks import why_changed

STAGE = "preflight"
STAMP = "params.yaml, output folders, disk, memory and network checked\n"


def stage_readers() -> dict[str, Callable[[Params], Any]]:
    """Each stage's reading of params.yaml (read_config), where it reads any."""
    readers = [name for name, check in CHECKS.items() if check.config or check.device]
    return {name: partial(read_config, name) for name in readers}


def pending(root: Path, lock: Mapping) -> dict[str, str]:
    """The stages `dvc repro` is about to run, each with why (`dvc status`'s answer,
    checks.why_changed; never run; or after a stage upstream that runs), upstream
    first. Read from DVC's own stages: preflight runs inside `dvc repro`, which
    holds the lock that `dvc status` would wait for."""
    why: dict[str, str] = {}
    with Repo(str(root)) as repo:
        graph = repo.index.graph  # an edge from each stage to the ones it reads
        made = {out.def_path for stage in graph for out in stage.outs}
        for stage in reversed(list(nx.topological_sort(graph))):
            if not isinstance(stage, PipelineStage) or stage.name == STAGE:
                continue
            up = why.keys() & {getattr(s, "name", "") for s in graph[stage]}
            after = [f"after {name}" for name in sorted(up)]
            if reason := why_changed(stage, made, lock) or next(iter(after), ""):
                why[stage.name] = reason
    return why


def check_folders(root: Path, dag: Mapping, cache: Path) -> None:
    """Every output's folder, and the DVC cache, accept new files."""
    folders: dict[Path, str] = {}  # each folder named by its first writer
    for name, stage in dag.items():
        for out in outputs(stage):
            folders.setdefault((root / out).parent, f"{name} writes {out}")
    for folder, what in folders.items():
        writable(folder, what)
    writable(cache, "DVC keeps every output's copy there")


def check_space(
    root: Path, dag: Mapping, lock: Mapping, todo: Mapping[str, str], data, cache: Path
) -> None:
    """Free disk for what the pending stages write, in the workspace and the cache."""
    same = resources.disk_of(cache) == resources.disk_of(root)
    # what the current outputs take, as dvc.lock records it: DVC deletes them first
    outs = [o for entry in lock.values() for o in entry.get("outs") or []]
    size = {o["path"]: o.get("size") or 0 for o in outs}
    need_work = need_cache = 0
    for name in todo:
        writes = footprint.disk_bytes(name, data)
        old = sum(size.get(o, 0) for o in outputs(dag[name]) if (root / o).exists())
        need_work += max(writes - old, 0)
        need_cache += writes
    what = ", ".join(todo)
    if same:
        resources.need_space(root, need_work + need_cache, f"{what} (DVC's cache too)")
    else:
        resources.need_space(root, need_work, what)
        resources.need_space(cache, need_cache, f"DVC's cache of {what}")


def run(root: Path, params: Params) -> list[str]:
    """Every check, in order: the first problem raised (one line), else a line each."""
    for read in stage_readers().values():  # a ParamError at the first bad key
        read(params)
    dag = (read_yaml(root / "dvc.yaml") or {}).get("stages") or {}
    lock = (read_yaml(root / "dvc.lock") or {}).get("stages") or {}
    cache = cache_dir(root)
    check_folders(root, dag, cache)
    todo = pending(root, lock)
    check_space(root, dag, lock, todo, params.data, cache)
    for name in todo:
        if name in CHECKS:  # the stage's own check, the download last
            check_stage(name, params, root, dag)
    runs = "; ".join(f"{name} ({why})" for name, why in todo.items()) or "none"
    return [*sweep(root), f"preflight: all checked; stages to run: {runs}"]

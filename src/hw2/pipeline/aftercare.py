"""Around `dvc repro` (scripts/repro_guard.py): before it, a cut-short rwlock
removed; after it, outputs in DVC's cache, matching their md5, and no leftovers.
Why each: docs/reliability.md's table of DVC's own behaviour.
"""

import contextlib
import json
import os
import re
from pathlib import Path

import psutil
from dvc.lock import LockError, make_lock
from dvc.repo import Repo

from hw2.core import resources
from hw2.core.download import file_digest
from hw2.core.errors import Hw2Error
from hw2.core.io import sweep_leftovers
from hw2.core.params import read_yaml
from hw2.core.stage import outputs
from hw2.pipeline.dvc import run_json


def sweep(root: Path) -> list[str]:
    """Remove what killed writes left in the outputs' top folders; a line for each."""
    stages = ((read_yaml(root / "dvc.yaml") or {}).get("stages") or {}).values()
    tops = {Path(o).parts[0] for s in stages for o in outputs(s) if "/" in o}
    found = [root / top for top in sorted(tops) if (root / top).is_dir()]
    return [f"removed {p} (left by a killed run)" for p in sweep_leftovers(*found)]


def cache_dir(root: Path) -> Path:
    """DVC's cache folder for this repository (its config at every level)."""
    with Repo(str(root)) as repo:
        return Path(repo.cache.local.path)


def check(root: Path) -> list[str]:
    """Sweep leftovers, then refuse outputs missing from the cache (one line)."""
    removed = sweep(root)
    status = run_json(["dvc", "data", "status", "--json"], root, timeout=600)
    if missing := list(status.get("not_in_cache") or []):
        cache = cache_dir(root)
        free = resources.human(resources.free_bytes(cache))
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise Hw2Error(
            f"{len(missing)} output(s) in dvc.lock are not in DVC's cache ({shown}): "
            f"it is on {resources.disk_of(cache)}, {free} free. Free space there, "
            "then `dvc commit -f` stores them"
        )
    refuse_rot(root)
    return removed + ["every output dvc.lock names is in DVC's cache"]


def _cached_files(out: dict, odb) -> list[tuple[str, str, Path]]:
    """(workspace path, md5, cache object) of each file of a cached output."""
    md5 = str(out.get("md5") or "")
    obj = Path(odb.oid_to_path(md5)) if out.get("hash") == "md5" and md5 else None
    if obj is None or not obj.is_file():
        return []
    whole = [(out["path"], md5, obj)]
    if not md5.endswith(".dir"):
        return whole
    try:
        listing = json.loads(obj.read_text(encoding="utf-8"))
        return [
            (f"{out['path']}/{e['relpath']}", e["md5"], Path(odb.oid_to_path(e["md5"])))
            for e in listing
        ]
    except (ValueError, TypeError, KeyError):
        return whole  # the listing itself rotted: the folder's hash then names it


def refuse_rot(root: Path) -> None:
    """Refuse the first cached file whose bytes differ from its md5 in dvc.lock."""
    lock = read_yaml(root / "dvc.lock") or {}
    with Repo(str(root)) as repo:
        files = [
            (stage, out["path"], *file)
            for stage, entry in (lock.get("stages") or {}).items()
            for out in entry.get("outs") or []
            for file in _cached_files(out, repo.cache.local)
        ]
    for stage, out, name, md5, obj in files:
        path = root / name
        if not path.is_file() or file_digest(path, "md5") == md5:
            continue
        if obj.is_file() and file_digest(obj, "md5") == md5:
            raise Hw2Error(
                f"{name} differs from its md5 in dvc.lock (its copy in DVC's cache "
                f"is sound): `dvc checkout --relink {out}` restores it"
            )
        cached = os.path.relpath(obj, root)
        cached = obj if cached.startswith("..") else cached
        raise Hw2Error(
            f"{name} differs from its md5 in dvc.lock, and so does its object in "
            f"DVC's cache ({cached}: bit rot, which DVC does not check): `rm -f "
            f"{cached} {name}`, then `dvc repro {stage}` makes it again"
        )


def broken_rwlock(root: Path) -> str | None:
    """Remove DVC's `.dvc/tmp/rwlock` when a full disk cut it short (no JSON: every
    dvc command fails) and no process it names runs; the line to print, or None."""
    name, tmp = ".dvc/tmp/rwlock", root / ".dvc" / "tmp"
    path = root / name
    if not path.is_file():
        return None
    try:
        # DVC's own guard of the file: a dvc writing it now is no corruption
        with make_lock(str(tmp / "rwlock.lock"), tmp_dir=str(tmp)):
            text = path.read_bytes().decode("utf-8", errors="replace")
            with contextlib.suppress(ValueError):
                json.loads(text)
                return None
            pids = map(int, re.findall(r'"pid":\s*(\d+)', text))
            if (alive := next(filter(psutil.pid_exists, pids), None)) is not None:
                raise Hw2Error(
                    f"{name} is corrupted (not JSON) and names process {alive}, "
                    f"which still runs: when it has ended, `rm {name}`"
                )
            path.unlink()
    except (FileNotFoundError, LockError):
        return None
    return f"removed {name} (DVC's lock file, cut short: not JSON)"

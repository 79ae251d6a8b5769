"""Around `dvc repro` (`make repro`, scripts/repro_guard.py): after it, every
output dvc.lock names is in DVC's cache and matches its md5, and no leftovers of
killed writes remain; before it, a cut-short `.dvc/tmp/rwlock` is removed. The
DVC behaviours each guards against: docs/reliability.md's table.
"""

import json
import os
import re
from pathlib import Path

from hw2.core import resources
from hw2.core.download import file_digest
from hw2.core.errors import Hw2Error
from hw2.core.io import sweep_leftovers
from hw2.core.params import read_yaml
from hw2.core.stage import outputs
from hw2.pipeline.dvc import run_json


def sweep(root: Path) -> list[str]:
    """Remove what killed writes left in the top folders of every output dvc.yaml
    declares (data, metrics, ...); a line for each."""
    stages = ((read_yaml(root / "dvc.yaml") or {}).get("stages") or {}).values()
    tops = {Path(o).parts[0] for s in stages for o in outputs(s) if "/" in o}
    found = [root / top for top in sorted(tops) if (root / top).is_dir()]
    return [f"removed {p} (left by a killed run)" for p in sweep_leftovers(*found)]


def cache_dir(root: Path) -> Path:
    """DVC's cache folder for this repository (its config at every level)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return Path(repo.cache.local.path)


def check(root: Path) -> list[str]:
    """Sweep leftovers, then refuse outputs missing from the cache (one line)."""
    removed = sweep(root)
    status = run_json(["dvc", "data", "status", "--json"], root, timeout=600)
    missing = list(status.get("not_in_cache") or [])
    if missing:
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
    """(workspace path, md5, cache object) of each file of a cached output; none
    for an output DVC keeps in git (`cache: false`: no object in the cache)."""
    md5 = str(out.get("md5") or "")
    if out.get("hash") != "md5" or not md5:
        return []
    obj = Path(odb.oid_to_path(md5))
    if not obj.is_file():
        return []
    if not md5.endswith(".dir"):
        return [(out["path"], md5, obj)]
    try:
        listing = json.loads(obj.read_text(encoding="utf-8"))
        return [
            (f"{out['path']}/{e['relpath']}", e["md5"], Path(odb.oid_to_path(e["md5"])))
            for e in listing
        ]
    except (ValueError, TypeError, KeyError):
        # the listing itself rotted: the folder's hash then names it
        return [(out["path"], md5, obj)]


def refuse_rot(root: Path) -> None:
    """Refuse the first file of a cached output whose bytes differ from its md5
    in dvc.lock: one line, with what to do."""
    from dvc.repo import Repo

    lock = read_yaml(root / "dvc.lock") or {}
    with Repo(str(root)) as repo:
        odb = repo.cache.local
        for stage, entry in (lock.get("stages") or {}).items():
            for out in entry.get("outs") or []:
                for name, md5, obj in _cached_files(out, odb):
                    path = root / name
                    if not path.is_file() or file_digest(path, "md5") == md5:
                        continue
                    if obj.is_file() and file_digest(obj, "md5") == md5:
                        raise Hw2Error(
                            f"{name} differs from its md5 in dvc.lock (its copy in "
                            "DVC's cache is sound): `dvc checkout --relink "
                            f"{out['path']}` restores it"
                        )
                    cached = os.path.relpath(obj, root)
                    cached = obj if cached.startswith("..") else cached
                    raise Hw2Error(
                        f"{name} differs from its md5 in dvc.lock, and so does its "
                        f"object in DVC's cache ({cached}: bit rot, which DVC does "
                        f"not check): `rm -f {cached} {name}`, then `dvc repro "
                        f"{stage}` makes it again"
                    )


_RWLOCK_PID = re.compile(r'"pid":\s*(\d+)')


def broken_rwlock(root: Path) -> str | None:
    """Remove DVC's `.dvc/tmp/rwlock` when it is no JSON (a full disk cut it
    short: every dvc command then fails) and no process it names still runs;
    the line to print, or None when it is sound or absent."""
    import psutil
    from dvc.lock import LockError, make_lock

    tmp = root / ".dvc" / "tmp"
    path = tmp / "rwlock"
    if not path.is_file():
        return None
    try:
        # DVC's own guard of the file: a dvc writing it now is no corruption
        with make_lock(str(tmp / "rwlock.lock"), tmp_dir=str(tmp)):
            text = path.read_bytes().decode("utf-8", errors="replace")
            try:
                json.loads(text)
                return None
            except ValueError:
                pass
            alive = [
                pid
                for pid in map(int, _RWLOCK_PID.findall(text))
                if psutil.pid_exists(pid)
            ]
            if alive:
                raise Hw2Error(
                    f"{path.relative_to(root)} is corrupted (not JSON) and names "
                    f"process {alive[0]}, which still runs: when it has ended, `rm "
                    f"{path.relative_to(root)}`"
                )
            path.unlink()
    except (FileNotFoundError, LockError):
        return None
    return f"removed {path.relative_to(root)} (DVC's lock file, cut short: not JSON)"

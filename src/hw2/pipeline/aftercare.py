"""After `dvc repro`: every output dvc.lock names is in DVC's cache, and no
leftovers of killed writes remain (`make repro` runs this).

DVC reports a cache it could not write to (a full disk) as ERROR lines, yet exits
0 and records the outputs in dvc.lock; `dvc data status` then lists them as not
in cache, and a later `dvc checkout` cannot bring them back. And DVC restoring a
stage's outputs from its cache runs none of the stage's code, so a killed run's
temporary entries stay unless something else removes them.
"""

from pathlib import Path

from hw2.core import resources
from hw2.core.errors import Hw2Error
from hw2.core.io import sweep_leftovers
from hw2.core.params import read_yaml
from hw2.pipeline.dvc import run_json


def output_roots(root: Path) -> list[Path]:
    """The top folders of every output dvc.yaml declares (data, metrics, ...)."""
    dag = read_yaml(root / "dvc.yaml") or {}
    tops = set()
    for stage in (dag.get("stages") or {}).values():
        for field in ("outs", "metrics", "plots"):
            for entry in stage.get(field) or []:
                path = Path(entry if isinstance(entry, str) else next(iter(entry)))
                if len(path.parts) > 1:
                    tops.add(path.parts[0])
    return [root / top for top in sorted(tops) if (root / top).is_dir()]


def not_in_cache(root: Path) -> list[str]:
    """Outputs that dvc.lock names but DVC's cache lacks (`dvc data status`)."""
    status = run_json(["dvc", "data", "status", "--json"], root, timeout=600)
    return list(status.get("not_in_cache") or [])


def cache_dir(root: Path) -> Path:
    """DVC's cache folder for this repository (its config at every level)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return Path(repo.cache.local.path)


def check(root: Path) -> list[str]:
    """Sweep leftovers, then refuse outputs missing from the cache (one line)."""
    removed = sweep_leftovers(*output_roots(root))
    missing = not_in_cache(root)
    if missing:
        cache = cache_dir(root)
        free = resources.human(resources.free_bytes(cache))
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise Hw2Error(
            f"{len(missing)} output(s) in dvc.lock are not in DVC's cache ({shown}): "
            f"it is on {resources.disk_of(cache)}, {free} free. Free space there, "
            "then `dvc commit -f` stores them"
        )
    lines = [f"removed {path} (left by a killed run)" for path in removed]
    return lines + ["every output dvc.lock names is in DVC's cache"]

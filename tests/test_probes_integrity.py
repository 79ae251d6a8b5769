"""What DVC leaves silently wrong, on a tiny reproduced copy of the project
(issue 30): bit rot in its cache, a lock file cut short by a full disk, its site
cache outside the project, the README's way back and `dvc gc -w`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import copy_reproduced, tool_env

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)  # stands in for the Makefile's .venv


def sh(cmd: list[str], cwd: Path, ok: bool = True, env=None):
    done = subprocess.run(
        cmd, cwd=cwd, env=env or tool_env(), capture_output=True, text=True
    )
    if ok:
        assert done.returncode == 0, (
            f"{cmd}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done


@pytest.fixture
def project(tiny_reproduced, tmp_path) -> Path:
    return copy_reproduced(tiny_reproduced.root, tmp_path / "project")


def flip_bit(path: Path) -> None:
    """One flipped bit in the middle of a file, its mode and mtime kept (rot)."""
    stat = path.stat()
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(data)
    path.chmod(stat.st_mode)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def lock_md5(project: Path, stage: str, out: str) -> str:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    (md5,) = [o["md5"] for o in lock["stages"][stage]["outs"] if o["path"] == out]
    return md5


@pytest.mark.e2e
def test_bit_rot_in_dvcs_cache_is_named_after_checkout(project):
    md5 = lock_md5(project, "train_cnn", "data/models/cnn.pt")
    obj = project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    assert obj.stat().st_mode & 0o777 == 0o444
    flip_bit(obj)
    (project / "data/models/cnn.pt").unlink()
    sh(["dvc", "checkout"], project)  # restores the rotten copy without a word
    guard = sh(["python", "scripts/repro_guard.py", "after"], project, ok=False)
    assert guard.returncode == 2, guard.stdout + guard.stderr
    (line,) = [x for x in guard.stderr.splitlines() if x.startswith("error: ")]
    assert line.startswith("error: data/models/cnn.pt differs from its md5 in dvc.lock")
    cached = str(obj.relative_to(project))
    assert f"`rm -f {cached} data/models/cnn.pt`, then `dvc repro train_cnn`" in line


def cut_short_rwlock(project: Path, pid: int) -> Path:
    """The lock file as a full disk leaves it: DVC's JSON cut at 4,096 bytes."""
    entry = f'{{"pid": {pid}, "cmd": "dvc repro"}}'
    reads = ", ".join(f'"{project}/data/{"x" * 60}{i}": [{entry}]' for i in range(60))
    path = project / ".dvc/tmp/rwlock"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{{"write": {{}}, "read": {{{reads}}}}}'[:4096])
    return path


def a_finished_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.mark.e2e
def test_a_cut_short_rwlock_is_removed_before_dvc_runs(project):
    path = cut_short_rwlock(project, a_finished_pid())
    refused = sh(["dvc", "status"], project, ok=False)
    assert "JSON structure is corrupted" in refused.stderr
    guard = sh(["python", "scripts/repro_guard.py", "before"], project)
    assert guard.stdout.splitlines() == [
        "removed .dvc/tmp/rwlock (DVC's lock file, cut short: not JSON)"
    ]
    assert not path.exists()
    sh(["dvc", "status"], project)


def test_a_cut_short_rwlock_of_a_live_process_is_named(tmp_path):
    from hw2.core.errors import Hw2Error
    from hw2.pipeline.aftercare import broken_rwlock

    path = cut_short_rwlock(tmp_path, os.getpid())
    with pytest.raises(Hw2Error, match=rf"names process {os.getpid()}, which still"):
        broken_rwlock(tmp_path)
    assert path.exists()


@pytest.mark.e2e
def test_make_keeps_dvcs_site_cache_in_the_project(project, tmp_path, monkeypatch):
    from dvc.repo import Repo

    env = tool_env()
    env.pop("DVC_SITE_CACHE_DIR", None)  # what a user's shell has
    sh(["make", "-s", "repro", f"VENV={VENV}"], project, env=env)
    # the folder DVC names after the repository, wherever its site cache is
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "site"))
    with Repo(str(project)) as repo:
        token = Path(repo.site_cache_dir).name
    assert (project / ".dvc/tmp/site/repo" / token).is_dir()
    assert not Path("/var/tmp/dvc/repo", token).exists()


def test_readme_says_what_dvc_gc_w_drops_with_flags_dvc_has():
    text = (ROOT / "README.md").read_text()
    trouble = text.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    (item,) = [x for x in trouble.split("\n- ") if "`dvc gc -w`" in x]
    assert "dvc exp apply" in item and "`dvc repro`" in item
    flags = set(re.findall(r"(--[a-z-]+)", item))
    assert "--all-experiments" in flags
    usage = sh(["dvc", "gc", "--help"], ROOT).stdout
    assert all(flag in usage for flag in flags), flags

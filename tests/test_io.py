import os
import signal
import subprocess
import sys

import pytest

from hw2.core.io import atomic_dir, atomic_path, save_torch, write_json


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    dest = tmp_path / "out.json"
    write_json(dest, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert dest.read_text().strip().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_path_gives_ordinary_permissions(tmp_path):
    dest = tmp_path / "f.txt"
    with atomic_path(dest) as tmp:
        tmp.write_text("x")
    assert dest.stat().st_mode & 0o044  # readable by others, unlike mkstemp's 0600


def test_atomic_dir_replaces_whole_folder(tmp_path):
    dest = tmp_path / "feat"
    with atomic_dir(dest) as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(dest) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in dest.iterdir()) == ["b"]
    with pytest.raises(ValueError), atomic_dir(dest) as tmp:
        (tmp / "c").write_text("3")
        raise ValueError
    assert sorted(p.name for p in dest.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feat"]


def test_process_killed_mid_write_leaves_no_output(tmp_path):
    dest = tmp_path / "model.pt"
    code = (
        "import os, signal\n"
        "from hw2.core.io import atomic_path\n"
        f"with atomic_path({str(dest)!r}) as tmp:\n"
        "    tmp.write_bytes(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=os.environ.copy())
    assert proc.returncode == -signal.SIGKILL
    assert not dest.exists()


def test_save_torch_writes_the_same_bytes_for_the_same_object(tmp_path):
    import torch

    obj = {"w": torch.arange(6.0).reshape(2, 3), "seed": 42}
    save_torch(tmp_path / "a.pt", obj)
    save_torch(tmp_path / "b.pt", obj)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    loaded = torch.load(tmp_path / "a.pt", weights_only=True)
    assert torch.equal(loaded["w"], obj["w"]) and loaded["seed"] == 42

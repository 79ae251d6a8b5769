import collections
import os
import signal
import subprocess
import sys

import pytest

from hw2.core.errors import DataError
from hw2.core.io import (
    atomic_dir,
    atomic_path,
    load_torch,
    remove_leftovers,
    save_torch,
    write_json,
)


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
    # the killed writer's temporary file stays until the next write of model.pt
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(".model.pt.")
    with atomic_path(dest) as tmp:
        tmp.write_text("ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_next_writer_removes_only_its_own_dead_leftovers(tmp_path):
    dest = tmp_path / "features"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    stale = [f".features.{dead}.abcd1234.tmp"]
    alive = ".features.1.abcd1234.tmp"  # pid 1 is always running
    other = [
        ".features.part.12.abcd1234.tmp",
        ".featuresX.tmp",
        ".features.x.tmp",
        ".features.x1y2z3_4.tmp",  # no pid: not a name this code makes
    ]
    for name in [*stale, alive, *other]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    with atomic_dir(dest) as tmp:
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["features", alive, *other]
    )
    # so does the previous output set aside by a writer killed between renames
    (tmp_path / f".features.{dead}.abcd1234.old").mkdir()
    with atomic_dir(dest) as tmp:
        (tmp / "b").write_text("2")
    assert not (tmp_path / f".features.{dead}.abcd1234.old").exists()
    # the archive's extraction folders follow the same rule
    (tmp_path / f".features.{dead}.abcd1234.extract").mkdir()
    assert remove_leftovers(dest, ".extract") == [
        tmp_path / f".features.{dead}.abcd1234.extract"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello world", "not a file saved by train_asr"),
        (b"PK\x03\x04broken zip", "not a file saved by train_asr"),
    ],
)
def test_load_torch_refuses_bad_files_in_one_line(tmp_path, content, message):
    path = tmp_path / "m.pt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_torch(path, made_by="train_asr")
    assert "\n" not in str(info.value) and "weights_only" not in str(info.value)


def test_load_torch_refuses_pickled_objects_without_unsafe_advice(tmp_path):
    import datetime

    import torch

    torch.save({"when": datetime.date(2020, 1, 1)}, tmp_path / "p.pt")
    with pytest.raises(DataError, match="other than tensors") as info:
        load_torch(tmp_path / "p.pt", made_by="train_asr")
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError, match=r"file not found \(run train_asr\)"):
        load_torch(tmp_path / "none.pt", made_by="train_asr")
    torch.save({"w": torch.ones(2)}, tmp_path / "ok.pt")
    assert load_torch(tmp_path / "ok.pt", made_by="x")["w"].sum() == 2


def test_save_torch_writes_the_same_bytes_for_the_same_object(tmp_path):
    import torch

    obj = {"w": torch.arange(6.0).reshape(2, 3), "seed": 42}
    save_torch(tmp_path / "a.pt", obj)
    save_torch(tmp_path / "b.pt", obj)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    loaded = torch.load(tmp_path / "a.pt", weights_only=True)
    assert torch.equal(loaded["w"], obj["w"]) and loaded["seed"] == 42


class _StopWhilePickled:
    """Sends this process SIGTERM while torch.save pickles it."""

    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        return (collections.OrderedDict, ((("n", 3),),))


def test_a_stop_during_save_torch_waits_for_the_whole_file(tmp_path):
    import torch

    from hw2.core import lifecycle

    previous = signal.signal(signal.SIGTERM, lifecycle._on_signal)
    try:
        with pytest.raises(lifecycle.Stopped, match="it received SIGTERM"):
            save_torch(
                tmp_path / "ckpt.pt",
                {"stop": _StopWhilePickled(), "w": torch.ones(4)},
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
    # the stop came after the rename, not as torch's "unexpected pos" mid-archive
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert loaded["stop"] == {"n": 3} and loaded["w"].sum() == 4
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]

"""An address-space limit (`ulimit -v`) met in one line: the memory check counts
it, and what it breaks before a stage's error handling starts (importing torch)
or after (a MemoryError) ends in one line naming it. Run in subprocesses under
resource.setrlimit, as a shell's `ulimit -v` would."""

import io
import os
import resource
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 700 << 20  # python and numpy fit; torch's libraries do not


def _limited(args: list[str]) -> subprocess.CompletedProcess:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, resource.RLIM_INFINITY))

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _inflating_npz(path: Path, claim: int) -> Path:
    """An npz whose member says it inflates to `claim` bytes: a stored member of
    1.5 MiB whose sizes in the zip are rewritten to claim (what DEFLATE could
    make of 1.5 MiB), its header claiming that many uint8."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (claim,)}
    )
    member = header.getvalue() + bytes(3 << 19)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("train_images.npy", member)
    data = bytearray(path.read_bytes())
    size = struct.pack("<I", len(header.getvalue()) + claim)
    at = data.index(b"PK\x01\x02")  # the central directory's entry
    data[at + 24 : at + 28] = size
    path.write_bytes(bytes(data))
    return path


def test_an_npz_inflating_past_the_address_space_limit_is_refused(tmp_path):
    path = _inflating_npz(tmp_path / "o.npz", 1 << 30)
    done = _limited(
        [
            "-c",
            "import sys; from hw2.core import npz\n"
            "try:\n    npz.check(sys.argv[1])\n"
            "except Exception as exc:\n    print(exc); sys.exit(3)",
            str(path),
        ]
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "needs at least 1.0 GiB of memory" in done.stdout
    assert f"address-space limit of 700.0 MiB (ulimit -v {LIMIT >> 10})" in done.stdout


def test_torch_that_cannot_load_under_the_limit_is_one_line():
    # preprocess_speech imports torch before its run_stage starts
    done = _limited(["stages/preprocess_speech.py", "--help"])
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("error: ImportError")
    assert f"address-space limit of 700.0 MiB (ulimit -v {LIMIT >> 10})" in lines[0]


def test_a_memory_error_under_the_limit_is_one_line():
    done = _limited(["-c", "import hw2; bytearray(1 << 30)"])
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: MemoryError under the address-space limit of 700.0 MiB "
        f"(ulimit -v {LIMIT >> 10}): raise or lift it (ulimit -v unlimited)"
    ]
    # an error the limit does not explain keeps its traceback
    done = _limited(["-c", "import hw2; import no_such_module_here"])
    assert "Traceback" in done.stderr and "no_such_module_here" in done.stderr

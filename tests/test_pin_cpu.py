"""Pinned CPU kernels: the same CNN weights on a CPU with AVX-512 and on one without.

The machine without is simulated on this one by capping each library at AVX2
(ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS, ATEN_CPU_CAPABILITY), each in a
fresh interpreter, since the libraries read these once when they start.
"""

import os
import subprocess
import sys

import pytest

from hw2.core.cpu_kernels import PINNED_ENV

CHILD = r"""
import sys
if sys.argv[1] == "pin":
    import hw2.core.pin_cpu  # noqa: F401
import hashlib
import numpy as np
import torch
from hw2.images.phantoms import make_dataset
from hw2.oct.train import CNNTrainConfig, train_cnn_runs
if sys.argv[1] == "pin":
    assert torch.backends.mkldnn.is_available()
d = make_dataset(120, 8, 4, seed=1)
data = {s: (d[f"{s}_images"], d[f"{s}_labels"]) for s in ("train", "val", "test")}
config = CNNTrainConfig(lr=0.05, epochs=1, seeds=1, device="cpu")
h = hashlib.sha256()
for run in train_cnn_runs(config, data, progress=False):
    for v in run.model.state_dict().values():
        h.update(v.numpy().tobytes())
print(h.hexdigest())
"""

AVX2_MACHINE = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
}


def weights_hash(mode: str, machine: dict[str, str]) -> str:
    drop = set(PINNED_ENV) | set(AVX2_MACHINE)
    env = {k: v for k, v in os.environ.items() if k not in drop}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        env={**env, **machine, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().splitlines()[-1]


def avx512_here() -> bool:
    try:
        return "avx512f" in open("/proc/cpuinfo").read()
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not avx512_here(), reason="needs an x86 CPU with AVX-512")
def test_pinned_kernels_give_the_same_weights_with_and_without_avx512():
    unpinned = weights_hash("free", {}), weights_hash("free", AVX2_MACHINE)
    # the check can fail: unpinned, the two "machines" train different weights
    assert unpinned[0] != unpinned[1]
    assert weights_hash("pin", {}) == weights_hash("pin", AVX2_MACHINE)


def test_pinning_after_torch_is_refused():
    import torch  # noqa: F401

    from hw2.core.cpu_kernels import pin

    with pytest.raises(RuntimeError, match="before torch"):
        pin({})

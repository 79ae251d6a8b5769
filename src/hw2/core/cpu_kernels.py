"""Pinning torch's CPU kernels, so that x86 CPUs compute the same bits.

A stage pins them by importing hw2.core.pin_cpu before torch. Different CPUs make
torch pick different kernels, and many epochs of batch-8 SGD turn their last-bit
differences into different networks: a CNN trained with the same code, params and
data gave test accuracy 0.782 on one x86 machine and 0.803 on another. The kernel
choices that differ between CPUs, and what pinning them costs, were measured with
benchmarks/bench_cnn_pinning.py:

* oneDNN (the convolutions) picks AVX-512 or AVX2 code by CPU: capped at AVX2
  (ONEDNN_MAX_CPU_ISA), which every x86 CPU since 2013 has; about free.
* MKL (the linear layers' GEMMs) picks code by ISA and CPU vendor: fixed to its
  AVX2 branch (MKL_CBWR, "conditional numerical reproducibility"); about free.
* ATen's own vectorised loops (ReLU, pooling, reductions) gave identical weights
  under AVX2 and AVX-512 (they differ from the non-vector build), and pinning them
  to AVX2 cost about 25 %: left as they are.

Not pinned, hence not reproduced bit for bit: CPUs without AVX2, other
torch/oneDNN/MKL versions, and GPUs (cuDNN and cuBLAS choose kernels by GPU and
heuristics). The thread count is not one of them: the CNN stages compute on one
thread whatever OMP_NUM_THREADS says (hw2.core.device.one_cpu_thread).
"""

import os
import sys

PINNED_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def pin(environ=os.environ) -> None:
    """Set the pinning variables; they are read when torch's libraries start."""
    if "torch" in sys.modules:
        raise RuntimeError("pin the CPU kernels (import hw2.core.pin_cpu) before torch")
    environ.update(PINNED_ENV)

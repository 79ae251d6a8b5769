"""Device choice and seeding shared by the training stages."""

import random
from contextlib import contextmanager

import numpy as np
import torch

from hw2.core.errors import ParamError

DEVICES = ("auto", "cpu", "cuda")


def pick_device(name: str) -> torch.device:
    """auto → cuda when available, else cpu; cuda without a GPU is an error."""
    if name not in DEVICES:
        raise ParamError(f"device must be one of {' | '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamError("device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def cpu_threads(n: int = 1):
    """Run with n intra-op threads on the CPU, then restore the previous number.

    Work made of many small kernels (a batch-8 CNN step, blockwise linear
    attention) loses more to a thread pool's hand-offs than it gains from it:
    see benchmarks/bench_cnn_throughput.py and benchmarks/bench_attention.py.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)

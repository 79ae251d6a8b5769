"""Device choice, threads, autocast and seeding shared by the training stages."""

import os
import random
import sys
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np
import torch

from hw2.core.errors import ParamError

DEVICES = ("auto", "cpu", "cuda")


def pick_device(name: str) -> torch.device:
    """auto → cuda when available, else cpu; cuda without a GPU is an error.
    `name` is one of DEVICES: every stage reads it with Params.choice."""
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


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):  # Linux; not macOS or Windows
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_WARNED: set[tuple[int, int]] = set()


@contextmanager
def cpu_threads(n: int = 1, processes: int = 1, key: str = "threads"):
    """Run with n intra-op threads on the CPU, then restore the previous number.

    Work made of many small kernels (a batch-8 CNN step, blockwise linear
    attention) loses more to a thread pool's hand-offs than it gains from it:
    see benchmarks/bench_cnn_throughput.py and benchmarks/bench_attention.py.
    Setting the number overrides OMP_NUM_THREADS and MKL_NUM_THREADS, so the
    environment a stage starts in does not change its float results.

    More threads than usable CPUs (n in each of `processes` processes on this
    machine) is allowed, since params travel between machines, but said once on
    stderr, naming the params.yaml `key` that set n: OpenMP threads that outnumber
    the cores spin while they wait for one another and run many times slower.
    """
    cpus = usable_cpus()
    if n * processes > cpus and (n, processes) not in _WARNED:
        _WARNED.add((n, processes))
        each = f" in each of {processes} processes" if processes > 1 else ""
        print(
            f"warning: {key}: {n} CPU threads{each} on {cpus} usable CPUs: the "
            f"threads wait on one another (at most {max(1, cpus // processes)} "
            "keeps each on a core of its own)",
            file=sys.stderr,
        )
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_cpu_thread(device: torch.device) -> AbstractContextManager:
    """cpu_threads(1) when `device` is the CPU; nothing changes for a GPU.

    One thread also keeps the results independent of the machine's core count.
    """
    return cpu_threads(1) if device.type == "cpu" else nullcontext()


def autocast(
    device: torch.device,
    enabled: bool | None = None,
    dtype: torch.dtype = torch.bfloat16,
) -> torch.autocast:
    """Mixed precision for the forward passes on `device`.

    enabled None: bf16 on CUDA only (a CPU computes in float32 unless asked,
    since only CPUs with bf16 instructions gain from it).
    """
    if enabled is None:
        enabled = device.type == "cuda"
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


def rng_state() -> dict[str, Any]:
    """Torch, numpy, Python (and CUDA) random states, in a weights_only-safe form."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            *np_state[2:],
        ),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

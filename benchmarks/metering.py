"""Metering for the rehearsal: wall time, peak memory and the machine, per stage.

`Recorder.stage` times a block (synchronising CUDA first), samples the peak
resident memory of the process and its workers, and appends the record, which
the block fills in; `timed` times one call; `machine` says what it ran on.
"""

import json
import os
import platform
import resource
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import torch

from hw2.core.io import write_json


class PeakMemory:
    """Peak resident memory of this process and its children while it is entered.

    Samples with psutil when it is installed; otherwise reports getrusage's
    high-water marks, which cover the whole process life (said in `method`).
    """

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self.method = "psutil"
        self._stop = threading.Event()

    def _sample(self, proc) -> None:
        while not self._stop.is_set():
            try:
                rss = proc.memory_info().rss
                for child in proc.children(recursive=True):
                    with suppress(Exception):  # a child that just ended
                        rss += child.memory_info().rss
                self.peak = max(self.peak, rss)
            except Exception:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        try:
            import psutil

            self._thread = threading.Thread(
                target=self._sample, args=(psutil.Process(),), daemon=True
            )
            self._thread.start()
        except ImportError:
            self.method = "getrusage (high-water mark since start)"
            self._thread = None
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            kib = max(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            )
            self.peak = kib * 1024


class Recorder:
    """Per-stage records: wall time, peak memory, what ran, what is projected."""

    def __init__(self, device: torch.device, partial: Path | None = None):
        self.device = device
        self.partial = partial  # rewritten after every stage: a cut run keeps them
        self.stages: list[dict[str, Any]] = []

    @contextmanager
    def stage(self, name: str):
        """Time and meter one stage; the body fills in the yielded record."""
        record: dict[str, Any] = {"stage": name}
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with PeakMemory() as memory:
            start = time.perf_counter()
            yield record
            sync(self.device)
            record["wall_s"] = round(time.perf_counter() - start, 3)
        record["peak_rss_mb"] = round(memory.peak / 2**20, 1)
        record["memory_method"] = memory.method
        if self.device.type == "cuda":
            record["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        self.stages.append(record)
        print(json.dumps(record), flush=True)
        if self.partial is not None:
            write_json(self.partial, {"partial": True, "stages": self.stages})


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def dir_bytes(path: Path) -> int:
    """Bytes of the files below path."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def timed(device: torch.device, fn, *args) -> tuple[float, Any]:
    """Seconds fn(*args) took on the device, and what it returned."""
    sync(device)
    start = time.perf_counter()
    value = fn(*args)
    sync(device)
    return time.perf_counter() - start, value


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else platform's guess."""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info = {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info

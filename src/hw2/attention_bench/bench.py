"""Study 1 measured: McLaurin linear attention against softmax attention.

Forward time and peak memory of torch's scaled_dot_product_attention (the one a
user would pick; non-causal and is_causal=True) and of mclaurin_attention over
sequence lengths L at head dimension D; the approximation error against exact
softmax attention for several numbers of series terms K; and the flop-count
crossover for comparison. hw2.attention_bench.bench_outputs writes the results;
dvc.yaml's top-level plots and the report draw them.

How it measures, and why:
- Inputs are q, k, v of shape (1, 1, L, D) with N(0, 1) entries: with the 1/√D
  scale, qᵀk/√D is then N(0, 1), the size of real attention logits at init.
- Time: best of `repeats` timings after a warm-up call, each timing the mean of
  enough calls to last ~50 ms; the two methods alternate so that load from
  other processes hits both alike. Best-of because such load only ever adds.
- Threads: both methods run with the same number of intra-op threads
  (attention.threads, default 1). On this shared 2-core machine a thread pool
  turns every small op of the chunked loop into a barrier that waits for a
  descheduled thread, while softmax attention is one fused op; one thread
  measures the algorithms rather than the scheduler.
- Peak memory: on CPU, the bytes the CPU allocator hands out during one call,
  replayed from the profiler's allocation and free events (peak of the running
  sum, output included). This sees the fused kernel's internal buffers too,
  which a Python-level tensor tracker would miss. On CUDA,
  torch.cuda.max_memory_allocated above the level before the call.
"""

import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from hw2.attention.feature_map import feature_dim
from hw2.attention.linear import SUB_CHUNK
from hw2.attention.mclaurin import mclaurin_attention
from hw2.core.device import cpu_threads
from hw2.core.errors import ParamError
from hw2.core.params import Params
from hw2.core.progress import tqdm

MAX_FEATURES = 100_000  # M(K, D) beyond this: minutes per call and GiBs of state
MAX_LENGTH = 65_536
METHODS = ("softmax", "mclaurin", "softmax_causal", "mclaurin_causal")


@dataclass(frozen=True)
class BenchConfig:
    """What bench_attention measures (params.yaml: attention.*)."""

    head_dim: int = 16
    terms: int = 3
    lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096, 8192, 16384)
    error_terms: tuple[int, ...] = (1, 3, 5)
    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    repeats: int = 3
    error_len: int = 1024
    error_std: float = 1.0  # std of q and k entries for the error measurement

    @classmethod
    def from_params(cls, p: Params, device: str = "cpu") -> "BenchConfig":
        """Read and check attention.*; a bad value is one line naming its key."""
        head_dim = p.integer("attention.head_dim", low=1, high=1024)
        terms = _odd(p, "attention.terms", p.integer("attention.terms", low=1))
        lengths = p.int_list("attention.lengths", low=1)
        if max(lengths) > MAX_LENGTH:
            raise ParamError(
                f"{p.source}: attention.lengths must be <= {MAX_LENGTH}, "
                f"got {max(lengths)}"
            )
        error_terms = p.int_list("attention.error_terms", low=1)
        for k in error_terms:
            _odd(p, "attention.error_terms", k)
        for key, k in [("attention.terms", terms)] + [
            ("attention.error_terms", k) for k in error_terms
        ]:
            m = feature_dim(k, head_dim)
            if m > MAX_FEATURES:
                raise ParamError(
                    f"{p.source}: {key} = {k} with attention.head_dim = {head_dim} "
                    f"gives M = {m:,} features, more than {MAX_FEATURES:,}"
                )
        seed = p.integer("attention.seed", low=0)
        threads = p.integer("attention.threads", low=1)
        return cls(
            head_dim=head_dim,
            terms=terms,
            lengths=tuple(sorted(set(lengths))),
            error_terms=tuple(sorted(set(error_terms))),
            seed=seed,
            threads=threads,
            device=device,
        )


def _odd(p: Params, key: str, k: int) -> int:
    if k % 2 == 0:
        raise ParamError(
            f"{p.source}: {key} must be odd (an even top degree K-1 keeps the "
            f"normaliser positive), got {k}"
        )
    return k


def theoretical_crossover(terms: int, dim: int, causal: bool) -> float:
    """L where McLaurin and softmax attention cost the same flops (multiply-adds x2).

    Softmax: QKᵀ and PV cost 2L²D each, 4L²D in all (exp not counted); causal
    skips half: 2L²D. McLaurin: the state Φ(K)ᵀ[V, 1] and the read Φ(Q)S cost
    2LM(D+1) each, the features about LM per side: LM(4D + 6). Causal adds the
    c×c quadratic form inside each sub-chunk of c positions, 2c(2D+1) per
    position. Equal cost:
        non-causal  4L²D = LM(4D+6)                  ->  L = M(4D+6)/(4D) ≈ M
        causal      2L²D = L(M(4D+6) + 2c(2D+1))     ->  L ≈ 2M + 2c
    """
    m = feature_dim(terms, dim)
    linear = m * (4 * dim + 6)
    if causal:
        return (linear + 2 * SUB_CHUNK * (2 * dim + 1)) / (2 * dim)
    return linear / (4 * dim)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(
    fns: dict[str, Callable[[], object]],
    device: torch.device,
    repeats: int = 3,
    min_seconds: float = 0.05,
) -> dict[str, float]:
    """Best-of-`repeats` seconds per call for each fn, the fns alternating."""
    inner = {}
    for name, fn in fns.items():  # warm-up, and how many calls make one timing
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        once = time.perf_counter() - start
        inner[name] = max(1, min(1000, math.ceil(min_seconds / max(once, 1e-6))))
    best = dict.fromkeys(fns, math.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            _sync(device)
            best[name] = min(best[name], (time.perf_counter() - start) / inner[name])
    return best


@contextmanager
def _quiet_stderr():
    """Silence fd 2: the profiler prints start/stop banners no log level stops."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated during one call of fn, its output included."""
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        out = fn()
        _sync(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del out
        return int(peak)
    from torch.profiler import ProfilerActivity, profile

    with (
        _quiet_stderr(),
        profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof,
    ):
        out = fn()
        del out
    with _quiet_stderr():
        events = [
            (e.start_ns(), e.nbytes())
            for e in prof.profiler.kineto_results.events()
            if e.name() == "[memory]" and str(e.device_type()) == "DeviceType.CPU"
        ]
    running = peak = 0
    for _, nbytes in sorted(events):
        running += nbytes
        peak = max(peak, running)
    return peak


def relative_errors(
    config: BenchConfig, device: torch.device, causal: bool
) -> dict[int, float]:
    """‖Z_K - Z‖_F / ‖Z‖_F against exact softmax attention, per K, in float64."""
    gen = torch.Generator().manual_seed(config.seed + 1)
    shape = (1, 1, config.error_len, config.head_dim)
    q, k, v = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in "qkv")
    q, k, v = (t.to(device) for t in (q * config.error_std, k * config.error_std, v))
    exact = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return {
        terms: float(
            torch.linalg.vector_norm(
                mclaurin_attention(q, k, v, terms=terms, causal=causal) - exact
            )
            / torch.linalg.vector_norm(exact)
        )
        for terms in config.error_terms
    }


def _crossover_interpolated(
    lengths: list[int], soft: list[float], linear: list[float]
) -> float | None:
    """Where log(t_mclaurin / t_softmax) first turns negative, linear in log L
    between the two measured lengths around it; None if it never does."""
    ratios = [math.log(m / s) for s, m in zip(soft, linear, strict=True)]
    if ratios[0] < 0:
        return float(lengths[0])
    for i in range(1, len(ratios)):
        if ratios[i] < 0 <= ratios[i - 1]:
            a, b = math.log(lengths[i - 1]), math.log(lengths[i])
            t = ratios[i - 1] / (ratios[i - 1] - ratios[i])
            return round(math.exp(a + t * (b - a)), 1)
    return None


def _crossover(
    lengths: list[int], soft: list[float], linear: list[float]
) -> int | None:
    """Smallest measured L from which McLaurin is faster at every larger L too."""
    found = None
    for length, s, m in zip(
        reversed(lengths), reversed(soft), reversed(linear), strict=True
    ):
        if m >= s:
            break
        found = length
    return found


def measure_length(
    config: BenchConfig, length: int, gen: torch.Generator
) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds per call and peak bytes of the four methods at one length L."""
    device = torch.device(config.device)
    shape = (1, 1, length, config.head_dim)
    q, k, v = (torch.randn(shape, generator=gen).to(device) for _ in "qkv")
    seconds, peaks = {}, {}
    for causal in (False, True):
        suffix = "_causal" if causal else ""
        fns = {
            "softmax" + suffix: lambda c=causal: F.scaled_dot_product_attention(
                q, k, v, is_causal=c
            ),
            "mclaurin" + suffix: lambda c=causal: mclaurin_attention(
                q, k, v, terms=config.terms, causal=c
            ),
        }
        seconds.update(time_calls(fns, device, config.repeats))
        peaks.update({name: peak_bytes(fn, device) for name, fn in fns.items()})
    return seconds, peaks


def run_benchmark(config: BenchConfig, progress: bool = True) -> dict:
    """Measure everything; returns {"metrics", "time", "memory", "error"}."""
    device = torch.device(config.device)
    gen = torch.Generator().manual_seed(config.seed)
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    peaks: dict[str, list[int]] = {m: [] for m in METHODS}
    with cpu_threads(config.threads, key="attention.threads"), torch.inference_mode():
        bar = tqdm(config.lengths, desc="attention", disable=not progress)
        for length in bar:
            bar.set_postfix_str(f"L={length}")
            seconds, peak = measure_length(config, length, gen)
            for method in METHODS:
                times[method].append(seconds[method])
                peaks[method].append(peak[method])
        bar.close()
        errors = relative_errors(config, device, causal=False)
        errors_causal = relative_errors(config, device, causal=True)
    return summarise(config, times, peaks, errors, errors_causal)


def summarise(config, times, peaks, errors, errors_causal) -> dict:
    """The metrics dict and the plot rows from raw measurements."""
    lengths = list(config.lengths)
    metrics: dict = {}
    for suffix in ("", "_causal"):
        soft, lin = times["softmax" + suffix], times["mclaurin" + suffix]
        metrics["crossover_len" + suffix] = _crossover(lengths, soft, lin)
        metrics["crossover_len_interpolated" + suffix] = _crossover_interpolated(
            lengths, soft, lin
        )
        metrics["theoretical_crossover_len" + suffix] = round(
            theoretical_crossover(config.terms, config.head_dim, bool(suffix)), 1
        )
        metrics["speedup_at_max_len" + suffix] = round(soft[-1] / lin[-1], 3)
        metrics["memory_ratio_at_max_len" + suffix] = round(
            peaks["softmax" + suffix][-1] / max(peaks["mclaurin" + suffix][-1], 1), 3
        )
        metrics["seconds_at_max_len" + suffix] = {
            "softmax": soft[-1],
            "mclaurin": lin[-1],
        }
        metrics["peak_bytes_at_max_len" + suffix] = {
            "softmax": peaks["softmax" + suffix][-1],
            "mclaurin": peaks["mclaurin" + suffix][-1],
        }
    metrics["rel_error"] = {str(k): round(e, 6) for k, e in errors.items()}
    metrics["rel_error_causal"] = {
        str(k): round(e, 6) for k, e in errors_causal.items()
    }
    settings = asdict(config)
    settings["lengths"] = lengths
    settings["error_terms"] = list(config.error_terms)
    settings["feature_dim"] = feature_dim(config.terms, config.head_dim)
    settings["sub_chunk"] = SUB_CHUNK
    settings["timing"] = f"best of {config.repeats}, after a warm-up"
    settings["peak_memory"] = (
        "torch.cuda.max_memory_allocated"
        if config.device.startswith("cuda")
        else "CPU allocator events (torch.profiler), peak of the running sum"
    )
    metrics["settings"] = settings
    time_rows = [
        (length, method, times[method][i])
        for method in METHODS
        for i, length in enumerate(lengths)
    ]
    memory_rows = [
        (length, method, peaks[method][i])
        for method in METHODS
        for i, length in enumerate(lengths)
    ]
    return {
        "metrics": metrics,
        "time": time_rows,
        "memory": memory_rows,
        "error": sorted(errors.items()),
    }

"""Seeded bootstrap confidence intervals, and the mean and spread over seeds.

Resampling the test items (clips, images) with replacement and recomputing the
statistic gives the spread a different test set of the same size would show.
Shared by the ASR (CER, WER, similarities over clips) and the CNN (accuracy over
images and seeds), so both wings report noise the same way.
"""

from collections.abc import Callable, Sequence

import numpy as np

N_BOOT = 1000
SEED = 0


def bootstrap_ci(
    values: np.ndarray | list[float],
    statistic: Callable[[np.ndarray], float] | None = None,
    *,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile interval of `statistic` (default: the mean) over `n_boot`
    resamples of the items; `values` may be (n,) or (n, k), one row per item.

    statistic receives the resampled rows (n, ...) and returns a float; a
    corpus-level ratio (errors / reference length) passes both columns.
    """
    data = np.asarray(values, dtype=np.float64)
    n = data.shape[0]
    if n == 0:
        raise ValueError("bootstrap of no items")
    if statistic is None:
        means = data[np.random.default_rng(seed).integers(0, n, (n_boot, n))]
        boots = means.mean(axis=1)
    else:
        idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))
        boots = np.array([statistic(data[i]) for i in idx])
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return float(low), float(high)


def ratio_of_sums(rows: np.ndarray) -> float:
    """sum(column 0) / sum(column 1): a corpus error rate from per-item counts."""
    return float(rows[:, 0].sum() / rows[:, 1].sum())


def bootstrap_ci_over_runs(
    scores: np.ndarray,
    *,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile interval of the grand mean of per-run per-item scores (runs, items),
    e.g. each seed's correctness on each test image.

    Each resample draws the items (the same draw for every run, as the runs saw
    the same items) and the runs, both with replacement, so that the finite test
    set and the spread between runs (seeds) both widen the interval. One run is
    the ordinary bootstrap of the mean over items.
    """
    data = np.asarray(scores, dtype=np.float64)
    if data.ndim != 2 or data.size == 0:
        raise ValueError(f"expected non-empty (runs, items) scores, got {data.shape}")
    runs, items = data.shape
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    chunk = 256  # resamples at once: bounds memory at (chunk, runs, items)
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        item_idx = rng.integers(0, items, (k, items))
        run_idx = rng.integers(0, runs, (k, runs))
        picked = data[run_idx[:, :, None], item_idx[:, None, :]]
        boots[start : start + k] = picked.mean((1, 2))
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return float(low), float(high)


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof 1); std is None for one value."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"expected a non-empty 1-D sequence, got shape {a.shape}")
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def fraction_equal(a, b) -> float:
    """Share of equal entries of two arrays (or tensors) of one length, as an exact
    ratio of counts (0.815, not 0.81499)."""
    return int((a == b).sum()) / len(a)

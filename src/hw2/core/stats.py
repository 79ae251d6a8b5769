"""Seeded bootstrap confidence intervals.

Resampling the test items (clips, images) with replacement and recomputing the
statistic gives the spread a different test set of the same size would show.
"""

from collections.abc import Callable

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

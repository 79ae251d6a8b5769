"""Summaries of repeated measurements: mean and spread, and bootstrap intervals.

Shared by the CNN (test accuracy over images and seeds) and the ASR (CER, WER and
similarities over test clips), so that both wings report noise the same way.
"""

from collections.abc import Callable, Sequence

import numpy as np

_CHUNK = 256  # resamples evaluated at once (bounds memory for 2-D scores)


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof 1); std is None for one value."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"expected a non-empty 1-D sequence, got shape {a.shape}")
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def bootstrap_ci(
    values_or_fn: np.ndarray | Sequence[float] | Callable[[np.ndarray], float],
    n_items: int | None = None,
    *,
    seed: int,
    n_resamples: int = 2000,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval [low, high] at `level`, from a seeded resampling.

    values_or_fn is one of:
      * per-item scores, 1-D (items,): the interval of their mean, resampling items;
      * per-run per-item scores, 2-D (runs, items), e.g. each seed's correctness on
        each test image: the interval of the grand mean, resampling items (the same
        draw for every run, as the runs saw the same items) and runs, so that both
        the finite test set and the spread between runs widen it;
      * a function of an index array (n_items,) returning the statistic of those
        items, for statistics that are not means of per-item scores (a corpus CER is
        total edits over total reference length): give n_items.
    The same arguments always give the same interval.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    if callable(values_or_fn):
        if n_items is None or n_items < 1:
            raise ValueError("a statistic function needs n_items >= 1")
        fn = values_or_fn
        stats = np.array(
            [fn(rng.integers(0, n_items, n_items)) for _ in range(n_resamples)],
            dtype=np.float64,
        )
    else:
        scores = np.asarray(values_or_fn, dtype=np.float64)
        if scores.ndim == 1:
            scores = scores[None, :]
        if scores.ndim != 2 or scores.size == 0:
            raise ValueError(
                f"expected 1-D or 2-D non-empty scores, got {scores.shape}"
            )
        runs, items = scores.shape
        stats = np.empty(n_resamples)
        for start in range(0, n_resamples, _CHUNK):
            k = min(_CHUNK, n_resamples - start)
            item_idx = rng.integers(0, items, (k, items))
            if runs == 1:
                stats[start : start + k] = scores[0][item_idx].mean(1)
                continue
            run_idx = rng.integers(0, runs, (k, runs))
            picked = scores[run_idx[:, :, None], item_idx[:, None, :]]
            stats[start : start + k] = picked.mean((1, 2))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)

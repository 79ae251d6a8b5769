import numpy as np
import pytest

from hw2.core.stats import bootstrap_ci, mean_std


def test_mean_std():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert mean_std([0.5]) == (0.5, None)
    with pytest.raises(ValueError):
        mean_std([])


def test_interval_of_a_mean_covers_it_and_matches_the_normal_width():
    rng = np.random.default_rng(0)
    correct = (rng.random(1000) < 0.8).astype(float)
    low, high = bootstrap_ci(correct, seed=0)
    mean = correct.mean()
    assert low < mean < high
    # the binomial standard error at n = 1000: half-width about 1.96 * 0.0126
    se = (mean * (1 - mean) / len(correct)) ** 0.5
    assert (high - low) / 2 == pytest.approx(1.96 * se, rel=0.15)


def test_seeded_and_narrower_at_a_lower_level():
    x = np.random.default_rng(1).normal(size=200)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    assert bootstrap_ci(x, seed=3) != bootstrap_ci(x, seed=4)
    lo95, hi95 = bootstrap_ci(x, seed=3, level=0.95)
    lo50, hi50 = bootstrap_ci(x, seed=3, level=0.5)
    assert lo95 < lo50 < hi50 < hi95


def test_spread_between_runs_widens_the_interval():
    rng = np.random.default_rng(2)
    base = (rng.random(1000) < 0.8).astype(float)
    same = np.stack([base] * 5)
    # five runs that agree on nothing but their mean accuracy vary by +-0.05
    shifted = np.stack(
        [(rng.random(1000) < p).astype(float) for p in (0.7, 0.75, 0.8, 0.85, 0.9)]
    )
    w_same = np.subtract(*bootstrap_ci(same, seed=0)[::-1])
    w_shift = np.subtract(*bootstrap_ci(shifted, seed=0)[::-1])
    w_one = np.subtract(*bootstrap_ci(base, seed=0)[::-1])
    assert w_same == pytest.approx(w_one, rel=0.2)  # identical runs add nothing
    assert w_shift > 2 * w_same


def test_a_statistic_function_for_ratios():
    """A corpus CER: total edits over total reference characters, per clip pairs."""
    rng = np.random.default_rng(3)
    chars = rng.integers(20, 200, 300)
    edits = rng.binomial(chars, 0.2)
    low, high = bootstrap_ci(
        lambda idx: edits[idx].sum() / chars[idx].sum(), len(chars), seed=0
    )
    assert low < edits.sum() / chars.sum() < high
    assert low > 0.15 and high < 0.25
    with pytest.raises(ValueError, match="n_items"):
        bootstrap_ci(lambda idx: 0.0, seed=0)

"""mean_std and the CNN's interval over runs x items (bootstrap_ci: test_metrics)."""

import numpy as np
import pytest

from hw2.core.stats import bootstrap_ci, bootstrap_ci_over_runs, mean_std


def test_mean_std():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert mean_std([0.5]) == (0.5, None)
    with pytest.raises(ValueError):
        mean_std([])


def test_one_run_is_the_bootstrap_of_a_mean_with_the_binomial_width():
    rng = np.random.default_rng(0)
    correct = (rng.random(1000) < 0.8).astype(float)
    low, high = bootstrap_ci_over_runs(correct[None, :], n_boot=2000, seed=0)
    mean = correct.mean()
    assert low < mean < high
    se = (mean * (1 - mean) / len(correct)) ** 0.5  # about 0.0126 at n = 1000
    assert (high - low) / 2 == pytest.approx(1.96 * se, rel=0.15)
    one = bootstrap_ci(correct, n_boot=2000, seed=0)
    assert high - low == pytest.approx(one[1] - one[0], rel=0.15)


def test_seeded_and_narrower_at_a_lower_level():
    x = (np.random.default_rng(1).random((3, 200)) < 0.7).astype(float)
    assert bootstrap_ci_over_runs(x, seed=3) == bootstrap_ci_over_runs(x, seed=3)
    assert bootstrap_ci_over_runs(x, seed=3) != bootstrap_ci_over_runs(x, seed=4)
    lo95, hi95 = bootstrap_ci_over_runs(x, seed=3, level=0.95)
    lo50, hi50 = bootstrap_ci_over_runs(x, seed=3, level=0.5)
    assert lo95 < lo50 < hi50 < hi95


def test_spread_between_runs_widens_the_interval():
    rng = np.random.default_rng(2)
    base = (rng.random(1000) < 0.8).astype(float)
    same = np.stack([base] * 5)
    # five runs with accuracies 0.7 .. 0.9 on the same images
    spread = np.stack(
        [(rng.random(1000) < p).astype(float) for p in (0.7, 0.75, 0.8, 0.85, 0.9)]
    )
    w_one = np.subtract(*bootstrap_ci_over_runs(base[None, :], seed=0)[::-1])
    w_same = np.subtract(*bootstrap_ci_over_runs(same, seed=0)[::-1])
    w_spread = np.subtract(*bootstrap_ci_over_runs(spread, seed=0)[::-1])
    assert w_same == pytest.approx(w_one, rel=0.2)  # identical runs add nothing
    assert w_spread > 2 * w_same
    with pytest.raises(ValueError, match="runs, items"):
        bootstrap_ci_over_runs(base)

"""ASR metrics: textdistance similarities on tokens, jiwer CER/WER on text."""

import numpy as np
import pytest

from hw2.asr.metrics import (
    asr_metrics,
    confidence_intervals,
    error_rates,
    mean_similarities,
    metrics_with_intervals,
    similarities,
)
from hw2.asr.text import EOS, PAD, SOS, encode
from hw2.core.stats import bootstrap_ci, ratio_of_sums


def tokens(text):
    return encode(text)[0].tolist()


def test_identical_sequences_score_one():
    seq = tokens("the cat sat.")
    assert similarities(seq, seq) == {
        "jaccard": 1.0,
        "cosine": pytest.approx(1.0),
        "damerau_levenshtein": 1.0,
    }


def test_tokens_after_the_first_stop_are_ignored():
    ref = tokens("abc")
    hyp = [*ref, PAD, PAD, 7, 8]
    assert similarities(ref, hyp)["damerau_levenshtein"] == 1.0
    assert similarities(ref, [*ref[:-1], EOS, 9])["jaccard"] == 1.0


def test_known_values():
    ref, hyp = [SOS, 10, 11, 12, EOS], [SOS, 10, 12, 11, EOS]
    scores = similarities(ref, hyp)
    assert scores["jaccard"] == 1.0  # same multiset
    assert scores["cosine"] == pytest.approx(1.0)
    assert scores["damerau_levenshtein"] == pytest.approx(1 - 1 / 5)  # one swap
    assert similarities([SOS, 10, EOS], [SOS, 11, 12, EOS])["jaccard"] == 2 / 5


def test_means_and_error_rates():
    refs = [tokens("a cat"), tokens("the dog")]
    hyps = [tokens("a cat"), tokens("the dig")]
    assert mean_similarities(refs, hyps)["damerau_levenshtein"] == pytest.approx(
        (1 + (1 - 1 / 9)) / 2
    )
    out = asr_metrics(refs, hyps)
    assert out["cer"] == pytest.approx(1 / 12)  # one of 5 + 7 characters
    assert out["wer"] == pytest.approx(1 / 4)


def test_empty_hypothesis_counts_as_deletions():
    assert error_rates(["ab cd"], [""]) == {"cer": 1.0, "wer": 1.0}


def test_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        error_rates([" "], ["x"])
    with pytest.raises(ValueError):
        mean_similarities([tokens("a")], [])


# --- bootstrap confidence intervals ------------------------------------------------


def test_bootstrap_is_seeded_and_narrows_with_more_items():
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=50), rng.normal(size=5000)
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)
    assert bootstrap_ci(small, seed=3) != bootstrap_ci(small, seed=4)
    lo, hi = bootstrap_ci(large)
    assert lo < large.mean() < hi
    width = hi - lo  # about 2 * 1.96 / sqrt(5000) = 0.055
    assert 0.04 < width < 0.07
    s_lo, s_hi = bootstrap_ci(small)
    assert s_hi - s_lo > 5 * width


def test_corpus_rate_interval_resamples_clips_not_clip_rates():
    # ten long clips 60% wrong, thirty one-word clips right: the corpus rate is
    # 600 / 1030 = 0.58 while the mean of the clip rates is 0.15
    rows = np.array([[60, 100]] * 10 + [[0, 1]] * 30, dtype=float)
    lo, hi = bootstrap_ci(rows, ratio_of_sums, n_boot=500, seed=2)
    assert 0.5 < lo < ratio_of_sums(rows) < hi < 0.65
    idx = np.random.default_rng(2).integers(0, 40, (500, 40))
    boots = rows[idx, 0].sum(axis=1) / rows[idx, 1].sum(axis=1)
    assert [lo, hi] == pytest.approx(np.quantile(boots, [0.025, 0.975]).tolist())


def test_intervals_of_perfect_transcripts_are_points():
    refs = [tokens(t) for t in ["the cat", "a dog sat", "on the mat"]]
    ci = confidence_intervals(refs, refs, n_boot=200)
    assert ci["cer_ci95"] == [0.0, 0.0] and ci["wer_ci95"] == [0.0, 0.0]
    assert ci["jaccard_ci95"] == [1.0, 1.0]


def test_interval_counts_add_up_to_jiwers_corpus_rates():
    refs = [tokens(t) for t in ["the cat sat", "a dog", "on the big mat", "red"]]
    hyps = [tokens(t) for t in ["the cat sad", "a dog ran", "on mat", "read"]]
    ci = confidence_intervals(refs, hyps, n_boot=500, seed=1)
    point = asr_metrics(refs, hyps)
    assert set(ci) == {f"{name}_ci95" for name in point}
    for name, (lo, hi) in ci.items():
        assert lo <= point[name.removesuffix("_ci95")] <= hi, name
    assert ci == confidence_intervals(refs, hyps, n_boot=500, seed=1)


def test_metrics_with_intervals_puts_each_interval_beside_its_value():
    refs = [tokens(t) for t in ["the cat sat", "a dog", "on the big mat"]]
    hyps = [tokens(t) for t in ["the cat sad", "a dog ran", "on mat"]]
    both = metrics_with_intervals(refs, hyps)
    point, ci = asr_metrics(refs, hyps), confidence_intervals(refs, hyps)
    assert list(both) == [k for name in point for k in (name, f"{name}_ci95")]
    assert both == {**point, **ci}

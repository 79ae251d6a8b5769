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
from hw2.asr.seeds import difference, score_seeds, summarise, transcript_tokens
from hw2.core.stats import bootstrap_ci, ratio_of_sums
from hw2.speech.text import EOS, MAX_TOKENS, PAD, SOS, decode, encode


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


# Seeds: hw2.asr.seeds aggregates each seed's transcripts of the same test clips.


def seeds_case():
    """Two clips, three seeds: perfect, one wrong letter, two wrong letters."""
    refs = [tokens("ab"), tokens("cd")]
    hyps = [
        [tokens("ab"), tokens("cd")],
        [tokens("ab"), tokens("cx")],
        [tokens("ax"), tokens("cx")],
    ]
    return refs, hyps


def seed_metrics(references, hypotheses, losses=None, **kwargs):
    """Every ASR metric over seeds, as make homework's seed record computes them."""
    return summarise(score_seeds(references, hypotheses, losses), **kwargs)


def test_seed_metrics_keys_means_spreads_and_per_seed_values():
    refs, hyps = seeds_case()
    out = seed_metrics(refs, hyps, losses=[1.0, 2.0, 3.0], n_boot=200)
    names = ("jaccard", "cosine", "damerau_levenshtein", "cer", "wer")
    expected = {"loss", "loss_std", "loss_per_seed", "seeds"}
    expected |= {f"{m}{s}" for m in names for s in ("", "_std", "_per_seed", "_ci95")}
    assert set(out) == expected  # the loss has no per-clip values: no interval
    assert out["seeds"] == 3
    assert (out["loss"], out["loss_std"]) == (2.0, 1.0)
    # CER: 0, 1 and 2 wrong of 4 reference characters; WER: 0, 1, 2 of 2 words
    assert out["cer_per_seed"] == [0.0, 0.25, 0.5]
    assert (out["cer"], out["cer_std"]) == (0.25, 0.25)
    assert out["wer_per_seed"] == [0.0, 0.5, 1.0]
    # [SOS c x EOS] against [SOS c d EOS]: Jaccard 3/5, one substitution in 4
    assert out["jaccard_per_seed"] == pytest.approx([1.0, 0.8, 0.6])
    assert out["jaccard_std"] == pytest.approx(0.2)
    assert out["damerau_levenshtein_per_seed"] == pytest.approx([1.0, 0.875, 0.75])
    for m in names:
        low, high = out[f"{m}_ci95"]
        assert low <= out[m] <= high
    # each seed's value is what the one-seed metrics give for it
    one = asr_metrics(refs, hyps[1])
    assert out["cer_per_seed"][1] == one["cer"]
    assert out["cosine_per_seed"][1] == one["cosine"]


def test_one_seed_has_no_std_and_its_interval_is_over_clips():
    refs = [tokens(f"clip {i} of the test") for i in range(40)]
    hyps = [
        tokens(f"clip {i} of thx test" if i % 3 else f"clip {i}") for i in range(40)
    ]
    out = seed_metrics(refs, [hyps], n_boot=500, seed=1)
    assert "cer_std" not in out and out["cer_per_seed"] == [out["cer"]]
    assert out["cer"] == asr_metrics(refs, hyps)["cer"]
    clip_only = confidence_intervals(refs, hyps, n_boot=500, seed=1)["cer_ci95"]
    width = out["cer_ci95"][1] - out["cer_ci95"][0]
    assert width == pytest.approx(clip_only[1] - clip_only[0], rel=0.25)


def noisy(refs_text, rate, seed):
    """Hypotheses with each letter wrong with probability `rate`."""
    rng = np.random.default_rng(seed)
    return [
        tokens("".join("x" if rng.random() < rate else c for c in text))
        for text in refs_text
    ]


def test_seed_spread_widens_the_interval_and_it_is_seeded():
    texts = [f"the {w} sat on a mat" for w in ("cat", "dog", "hen", "fox") * 15]
    refs = [tokens(t) for t in texts]
    alike = [noisy(texts, 0.2, seed=0)] * 3
    apart = [noisy(texts, rate, seed=0) for rate in (0.05, 0.2, 0.35)]
    one = seed_metrics(refs, alike[:1], n_boot=500)["cer_ci95"]
    same = seed_metrics(refs, alike, n_boot=500)["cer_ci95"]
    spread = seed_metrics(refs, apart, n_boot=500)
    width = [hi - lo for lo, hi in (one, same, spread["cer_ci95"])]
    assert width[1] == pytest.approx(width[0], rel=0.25)  # identical seeds add nothing
    assert width[2] > 2 * width[1]
    again = seed_metrics(refs, apart, n_boot=500)
    assert again == spread
    other = seed_metrics(refs, apart, n_boot=500, seed=1)
    assert other["cer_ci95"] != spread["cer_ci95"] and other["cer"] == spread["cer"]


def test_difference_is_paired_over_clips():
    texts = [f"the {w} sat on a mat" for w in ("cat", "dog", "hen", "fox") * 10]
    refs = [tokens(t) for t in texts]
    good = score_seeds(refs, [noisy(texts, 0.05, s) for s in range(3)])
    bad = score_seeds(refs, [noisy(texts, 0.3, s) for s in range(3)])
    delta, low, high = difference(bad, good, "cer", n_boot=500)
    assert delta == pytest.approx(
        np.mean(good.per_seed("cer")) - np.mean(bad.per_seed("cer"))
    )
    assert low <= delta <= high < 0  # fewer errors, beyond noise
    delta, low, high = difference(good, good, "jaccard", n_boot=500)
    assert delta == 0 and low < 0 < high  # the same runs: seeds drawn apart
    with pytest.raises(ValueError, match="different clips"):
        difference(good, score_seeds(refs[:5], [noisy(texts[:5], 0.1, 0)]), "cer")


def test_transcript_text_gives_back_the_scored_tokens():
    stopped = tokens("it's late")  # an unknown character, decoded as #
    assert transcript_tokens(decode(stopped)) == stopped
    assert transcript_tokens("") == [SOS, EOS]
    # a hypothesis that never stopped: MAX_TOKENS tokens, no stop token
    runaway = encode("ab" * 60, max_tokens=200)[0][:MAX_TOKENS].tolist()
    assert len(runaway) == MAX_TOKENS and EOS not in runaway
    assert transcript_tokens(decode(runaway)) == runaway
    # one character shorter did stop
    assert transcript_tokens(decode(runaway[:-1])) == [*runaway[:-1], EOS]

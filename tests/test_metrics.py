"""ASR metrics: textdistance similarities on tokens, jiwer CER/WER on text."""

import pytest

from hw2.asr.metrics import asr_metrics, error_rates, mean_similarities, similarities
from hw2.asr.text import EOS, PAD, SOS, encode


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

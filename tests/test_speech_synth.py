import random
import re

import numpy as np
import pytest

from hw2.asr import synth as S
from hw2.asr.text import VOCAB, encode


def test_synthesize_gives_22050_hz_int16_speech():
    audio = S.synthesize("The old man found a letter.", "en-us", rate=175, pitch=50)
    assert audio.dtype == np.int16 and audio.ndim == 1
    seconds = len(audio) / S.SAMPLE_RATE
    assert 0.8 < seconds < 3.0
    assert np.abs(audio.astype(np.int32)).max() > 1000  # not silence


def test_faster_rate_gives_shorter_audio():
    text = "Did the young clerk see the ship?"
    slow = S.synthesize(text, "en-gb-x-rp+f2", rate=120, pitch=40)
    fast = S.synthesize(text, "en-gb-x-rp+f2", rate=240, pitch=40)
    assert len(fast) < 0.75 * len(slow)


def test_unknown_voice_and_bad_rate_are_refused():
    with pytest.raises(ValueError, match="no voice"):
        S.synthesize("hello", "xx-nonexistent")
    with pytest.raises(ValueError, match="rate"):
        S.synthesize("hello", rate=10)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (42, "forty-two"),
        (100, "one hundred"),
        (305, "three hundred five"),
        (1000, "one thousand"),
        (12_345, "twelve thousand three hundred forty-five"),
        (2_000_019, "two million nineteen"),
        (-3, "minus three"),
    ],
)
def test_number_to_words(n, words):
    assert S.number_to_words(n) == words


@pytest.mark.parametrize(
    ("n", "words", "digits"),
    [
        (1, "first", "1st"),
        (2, "second", "2nd"),
        (3, "third", "3rd"),
        (4, "fourth", "4th"),
        (5, "fifth", "5th"),
        (9, "ninth", "9th"),
        (11, "eleventh", "11th"),
        (12, "twelfth", "12th"),
        (13, "thirteenth", "13th"),
        (20, "twentieth", "20th"),
        (21, "twenty-first", "21st"),
        (22, "twenty-second", "22nd"),
        (100, "one hundredth", "100th"),
        (112, "one hundred twelfth", "112th"),
    ],
)
def test_ordinals(n, words, digits):
    assert S.ordinal_to_words(n) == words
    assert S.ordinal_suffix(n) == digits


@pytest.mark.parametrize(
    ("year", "words"),
    [
        (1864, "eighteen sixty-four"),
        (1905, "nineteen oh five"),
        (1900, "nineteen hundred"),
        (1700, "seventeen hundred"),
        (2003, "two thousand three"),
        (2016, "twenty sixteen"),
    ],
)
def test_year_to_words(year, words):
    assert S.year_to_words(year) == words


def test_sentences_are_short_varied_and_in_the_vocabulary():
    specs = [S.clip_spec(0, i) for i in range(600)]
    allowed = set(VOCAB[4:])
    for spec in specs:
        assert set(spec.normalized.lower()) <= allowed, spec.normalized
        assert not re.search(r"\d", spec.normalized)
        assert 3 <= len(spec.raw.split()) <= 8, spec.raw
        _, n_unknown, truncated = encode(spec.normalized)
        assert n_unknown == 0 and not truncated
    raws = [s.raw for s in specs]
    assert len(set(raws)) == len(raws)
    assert sum(bool(re.search(r"\d", r)) for r in raws) > 60  # numbers in digits
    for mark in ("?", ",", "-", "$"):
        assert any(mark in r for r in raws), mark
    assert len({s.voice for s in specs}) == len(S.ACCENTS) * len(S.VARIANTS)
    assert len({s.rate for s in specs}) > 20 and len({s.pitch for s in specs}) > 20
    assert len(S.vocabulary()) >= 500


def test_numbers_in_raw_text_are_spelt_out_in_normalized_text():
    rng = random.Random(5)
    pairs = [S.make_sentence(rng) for _ in range(300)]
    with_year = [(r, n) for r, n in pairs if re.search(r"\bin 1[78]\d\d\b", r)]
    assert with_year
    raw, normalized = with_year[0]
    year = int(re.search(r"\bin (1[78]\d\d)\b", raw).group(1))
    assert S.year_to_words(year) in normalized.lower()


def test_clip_specs_are_deterministic_and_ids_follow_lj_speech():
    assert S.clip_spec(3, 17) == S.clip_spec(3, 17)
    assert S.clip_spec(3, 17) != S.clip_spec(4, 17)
    assert S.clip_id(0) == "LJ001-0001"
    assert S.clip_id(S.CLIPS_PER_CHAPTER) == "LJ002-0001"
    assert re.fullmatch(r"LJ\d{3}-\d{4}", S.clip_spec(0, 1499).id)


def test_synthesize_clips_same_specs_same_bytes():
    # the engine keeps state between utterances: each call uses a fresh worker
    specs = [S.clip_spec(0, i) for i in range(3)]
    first = [a.tobytes() for a in S.synthesize_clips(specs)]
    second = [a.tobytes() for a in S.synthesize_clips(specs)]
    assert first == second
    assert all(len(a) > S.SAMPLE_RATE // 2 for a in first)

import random
import re
import statistics

import pytest

from hw2.asr import numbers as S
from hw2.asr import sentences
from hw2.asr.text import MAX_TOKENS, VOCAB, encode

LIMIT = MAX_TOKENS - 2  # characters the decoder keeps (97)


@pytest.fixture(scope="module")
def pairs():
    rng = random.Random(5)
    return [sentences.make_sentence(rng) for _ in range(200)]


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


def test_transcript_lengths_are_shaped_like_lj_speech(pairs):
    lengths = [len(norm) for _, norm in pairs]
    # LJ Speech: about 100 characters on average, up to about 190; about half
    # longer than the decoder's 97
    assert 85 <= statistics.mean(lengths) <= 115
    assert 0.35 <= sum(n > LIMIT for n in lengths) / len(lengths) <= 0.65
    assert max(lengths) <= sentences.MAX_CHARS and max(lengths) > 150
    assert min(lengths) < 40
    assert sum(encode(norm)[2] for _, norm in pairs) == sum(n > LIMIT for n in lengths)


def test_word_counts_give_lj_speech_durations(pairs):
    # duration follows the words spoken: LJ Speech reads 17.2 words in 6.57 s on
    # average (157 words a minute), with clips from 1.1 to 10.1 s
    words = [len(norm.split()) for _, norm in pairs]
    assert 14 <= statistics.mean(words) <= 20
    assert min(words) <= 4 and max(words) >= 26
    seconds = [60 * w / 157 for w in words]
    assert 5.3 <= statistics.mean(seconds) <= 7.7


def test_punctuation_outside_the_vocabulary_is_present(pairs):
    raws = " ".join(raw for raw, _ in pairs)
    norms = " ".join(norm for _, norm in pairs)
    for mark in ('"', ";", ":", "'", "(", ")"):
        assert mark in raws and mark in norms, mark
    unknown = [encode(norm)[1] for _, norm in pairs]
    assert 0.15 <= sum(u > 0 for u in unknown) / len(unknown) <= 0.7
    assert set(norms.lower()) - set(VOCAB[4:]) <= set("\"';:()")


def test_numbers_years_ordinals_and_abbreviations_are_spelled_out(pairs):
    for _, norm in pairs:
        assert not re.search(r"[\d$]", norm), norm
        assert not re.search(r"\b(Mr|Mrs|Dr|Capt|Gen|Col|Lieut|St|No)\.", norm), norm
    raws = [raw for raw, _ in pairs]
    assert sum(bool(re.search(r"\d", r)) for r in raws) > 40
    assert any(re.search(r"\d,\d{3}", r) for r in raws)  # thousands commas
    assert any(re.search(r"\d(st|nd|rd|th)\b", r) for r in raws)  # ordinals
    assert any("$" in r for r in raws)
    assert any(re.search(r"\b(Mr|Mrs|Dr)\. ", r) for r in raws)


def test_a_year_in_digits_is_read_as_a_year():
    rng = random.Random(5)
    found = 0
    for _ in range(300):
        raw, norm = sentences.make_sentence(rng)
        for year in re.findall(r"\bin (1[789]\d\d)\b", raw):
            assert S.year_to_words(int(year)) in norm.lower()
            found += 1
    assert found > 10


def test_sentences_are_deterministic_and_varied():
    a = [sentences.make_sentence(random.Random(i)) for i in range(50)]
    b = [sentences.make_sentence(random.Random(i)) for i in range(50)]
    assert a == b and len(set(a)) == 50
    assert len(sentences.vocabulary()) >= 500
    assert all(norm[0].isupper() or not norm[0].isalpha() for _, norm in a)

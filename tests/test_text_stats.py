"""hw2.speech.text_stats on hand-made metadata rows."""

import pytest

from hw2.speech.ljspeech import Row
from hw2.speech.text_stats import out_of_vocabulary, text_stats, type_token, words

ROWS = [
    Row(
        "a", "Mr. Fry paid $5 in 1864.", "Mr. Fry paid five dollars in eighteen sixty."
    ),
    Row("b", 'He said, "No!"', 'He said, "No!"'),
    Row("c", "the keeper's room; then", "the keeper's room; then"),
    Row("d", "Dr. Müller and Mrs. Fry", "Dr. Müller and Mrs. Fry"),
    Row("e", "x" * 98, "x" * 98),
]


def test_words_keep_inner_apostrophes_and_split_on_hyphens_and_digits():
    assert words("The keeper's twenty-two (Müller) 1864 dogs'") == [
        "the",
        "keeper's",
        "twenty",
        "two",
        "müller",
        "dogs",
    ]


def test_out_of_vocabulary_lowers_case_first():
    assert out_of_vocabulary('Mr. "Ab" (c); é:') == ['"', '"', "(", ")", ";", "é", ":"]


def test_figures_of_hand_made_rows():
    s = text_stats(ROWS)
    assert s["oov_share"] == 0.6  # rows b, c, d
    assert s["oov_per_row"] == pytest.approx((3 + 2 + 1) / 5)
    chars = sum(len(r.normalized) for r in ROWS)
    assert s["oov_per_100_chars"] == pytest.approx(100 * 6 / chars, abs=1e-4)
    assert s["oov_kinds"] == {'"': 2, "!": 1, "'": 1, ";": 1, "ü": 1}
    assert s["digits_share"] == 0.2  # only row a's raw column has digits
    assert s["abbreviations"] == {"Mr.": 1, "Mrs.": 1, "Dr.": 1}
    assert s["top_words"][0] == "fry"  # the only word said twice
    assert s["words"] == 8 + 3 + 4 + 5 + 1
    assert s["length_max"] == 98 and s["cut_share"] == 0.2
    assert s["length_mean"] == pytest.approx(
        sum(len(r.normalized) for r in ROWS) / 5, abs=0.01
    )
    assert s["type_token_rows"] == 5
    assert s["type_token"] == pytest.approx(s["distinct_words"] / s["words"], abs=1e-4)


def test_type_token_draws_the_same_rows_for_a_seed():
    rows = [Row(str(i), "", f"w{'abcdefg'[i % 7]} common") for i in range(50)]
    one, again = type_token(rows, 10, seed=3), type_token(rows, 10, seed=3)
    assert one == again and 0 < one <= 1
    # on all rows: 8 distinct words (common and 7 others) in 100
    assert type_token(rows, 100) == pytest.approx(8 / 100)


def test_no_rows_is_refused():
    with pytest.raises(ValueError, match="no rows"):
        text_stats([])

"""Transcript statistics of an LJ Speech-format corpus, as its metadata.csv holds them.

preprocess_speech records them, so on the real LJ Speech they measure LJ itself
and on the sample they show how close the stand-in comes. Words are runs of
letters (any script) with inner apostrophes ("prisoner's" is one word), lower
case; hyphens and digits split them.
"""

import random
import re
from collections import Counter
from collections.abc import Sequence

from hw2.speech.ljspeech import Row
from hw2.speech.text import MAX_TOKENS, VOCAB

IN_VOCABULARY = frozenset(VOCAB[4:])  # what a transcript may hold, lower-cased
ABBREVIATIONS = ("Mr.", "Mrs.", "Dr.")
TYPE_TOKEN_ROWS = 2000  # LJ Speech: type/token 0.176 on 2,000-row draws
TOP_WORDS = 20
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_ABBREVIATION = re.compile(r"\b(Mrs?|Dr)\.")


def words(text: str) -> list[str]:
    """The words of a transcript, lower case."""
    return _WORD.findall(text.lower())


def out_of_vocabulary(text: str) -> list[str]:
    """The characters of a transcript the ASR's vocabulary lacks (lower-cased)."""
    return [c for c in text.lower() if c not in IN_VOCABULARY]


def type_token(rows: Sequence[Row], n_rows: int = TYPE_TOKEN_ROWS, seed: int = 0):
    """Distinct words / words in a seeded draw of n_rows normalized transcripts
    (all of them when there are fewer)."""
    picked = rows if len(rows) <= n_rows else random.Random(seed).sample(rows, n_rows)
    tokens = [w for r in picked for w in words(r.normalized)]
    return len(set(tokens)) / len(tokens) if tokens else 0.0


def text_stats(rows: Sequence[Row], seed: int = 0) -> dict:
    """The transcript figures LJ Speech is compared on (see docs/speech-sample.md)."""
    if not rows:
        raise ValueError("no rows")
    n = len(rows)
    oov = [out_of_vocabulary(r.normalized) for r in rows]
    kinds = Counter(c for chars in oov for c in chars)
    abbreviations = Counter(
        m.group(0) for r in rows for m in _ABBREVIATION.finditer(r.normalized)
    )
    counts = Counter(w for r in rows for w in words(r.normalized))
    lengths = [len(r.normalized) for r in rows]
    limit = MAX_TOKENS - 2  # characters the decoder keeps
    return {
        "oov_share": round(sum(bool(c) for c in oov) / n, 4),
        "oov_per_row": round(sum(map(len, oov)) / n, 4),
        # per character: what a shorter-clip sample keeps of LJ's density (LJ: 0.30)
        "oov_per_100_chars": round(100 * sum(map(len, oov)) / sum(lengths), 4),
        "oov_kinds": dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))),
        "digits_share": round(
            sum(any(c.isdigit() for c in r.raw) for r in rows) / n, 4
        ),
        "abbreviations": {a: abbreviations[a] for a in ABBREVIATIONS},
        "words": sum(counts.values()),
        "distinct_words": len(counts),
        "type_token": round(type_token(rows, seed=seed), 4),
        "type_token_rows": min(n, TYPE_TOKEN_ROWS),
        "top_words": [w for w, _ in counts.most_common(TOP_WORDS)],
        "length_mean": round(sum(lengths) / n, 2),
        "length_max": max(lengths),
        "cut_share": round(sum(length > limit for length in lengths) / n, 4),
    }

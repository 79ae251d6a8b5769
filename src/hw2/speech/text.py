"""The character vocabulary of the ASR study and transcript (de)tokenisation."""

import numpy as np

SOS, EOS, PAD, UNK = 0, 1, 2, 3
# start, stop, pad, unknown, then punctuation and letters: 4 + 5 + 26 = 35 tokens
VOCAB = "<>@#" + " ,.?-" + "abcdefghijklmnopqrstuvwxyz"
VOCAB_SIZE = len(VOCAB)
MAX_TOKENS = 99  # including start and stop
_INDEX = {ch: i for i, ch in enumerate(VOCAB)}
# Characters of the vocabulary that a transcript may hold (specials may not).
_TEXT_CHARS = set(VOCAB[4:])


def encode(text: str, max_tokens: int = MAX_TOKENS) -> tuple[np.ndarray, int, bool]:
    """Tokenise a transcript: (tokens with start and stop, n_unknown, truncated).

    Lower-cases first; characters outside the vocabulary become the unknown token.
    Transcripts longer than max_tokens - 2 characters are cut (and flagged).
    """
    chars = text.lower()
    ids = [_INDEX[c] if c in _TEXT_CHARS else UNK for c in chars]
    n_unknown = sum(1 for c in chars if c not in _TEXT_CHARS)
    truncated = len(ids) > max_tokens - 2
    ids = [SOS, *ids[: max_tokens - 2], EOS]
    return np.asarray(ids, dtype=np.uint8), n_unknown, truncated


def cut_after_stop(ids) -> list[int]:
    """The tokens up to and including the first stop token (all if there is none)."""
    out = []
    for t in ids:
        t = int(t)
        out.append(t)
        if t == EOS:
            break
    return out


def decode(ids) -> str:
    """Tokens to text: cut after the first stop, drop start/stop/pad."""
    return "".join(VOCAB[t] for t in cut_after_stop(ids) if t not in (SOS, EOS, PAD))

"""ASR metrics: textdistance similarities on token sequences, jiwer CER/WER on text.

The similarities compare the reference and generated token sequences (start token
included), each cut after its first stop token, as the homework's report does.
CER and WER compare the cleaned strings (special tokens removed).
"""

from collections.abc import Sequence

import jiwer
import textdistance

from hw2.asr.text import cut_after_stop, decode

# external=False: the pure-Python algorithms accept token lists, and the result
# does not depend on which optional speed-up libraries happen to be installed.
SIMILARITIES = {
    "jaccard": textdistance.Jaccard(external=False),
    "cosine": textdistance.Cosine(external=False),
    "damerau_levenshtein": textdistance.DamerauLevenshtein(external=False),
}


def similarities(
    reference: Sequence[int], hypothesis: Sequence[int]
) -> dict[str, float]:
    """Normalised similarities in [0, 1] of two token sequences cut after stop."""
    ref, hyp = cut_after_stop(reference), cut_after_stop(hypothesis)
    return {
        name: float(m.normalized_similarity(ref, hyp))
        for name, m in SIMILARITIES.items()
    }


def mean_similarities(
    references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]
) -> dict[str, float]:
    """Mean of each similarity over pairs of token sequences."""
    if len(references) != len(hypotheses) or not references:
        raise ValueError("need as many hypotheses as references, at least one")
    totals = dict.fromkeys(SIMILARITIES, 0.0)
    for ref, hyp in zip(references, hypotheses, strict=True):
        for name, value in similarities(ref, hyp).items():
            totals[name] += value
    return {name: total / len(references) for name, total in totals.items()}


def error_rates(
    references: Sequence[str], hypotheses: Sequence[str]
) -> dict[str, float]:
    """Corpus CER and WER (jiwer) of cleaned transcripts (references non-empty)."""
    refs = list(references)
    if any(not r.strip() for r in refs):
        raise ValueError("a reference transcript is empty")
    hyps = list(hypotheses)
    return {"cer": float(jiwer.cer(refs, hyps)), "wer": float(jiwer.wer(refs, hyps))}


def asr_metrics(
    references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]
) -> dict[str, float]:
    """Similarities on tokens plus CER/WER on the decoded strings."""
    out = mean_similarities(references, hypotheses)
    out.update(
        error_rates([decode(r) for r in references], [decode(h) for h in hypotheses])
    )
    return out

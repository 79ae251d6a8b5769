"""ASR metrics: textdistance similarities on token sequences, jiwer CER/WER on text.

The similarities compare the reference and generated token sequences (start token
included), each cut after its first stop token, as the homework's report does.
CER and WER compare the cleaned strings (special tokens removed).
"""

from collections.abc import Sequence

import jiwer
import numpy as np
import textdistance

from hw2.core.stats import bootstrap_ci, ratio_of_sums
from hw2.speech.text import cut_after_stop, decode

# external=False: the pure-Python algorithms accept token lists, and the result
# does not depend on which optional speed-up libraries happen to be installed.
SIMILARITIES = {
    "jaccard": textdistance.Jaccard(external=False),
    "cosine": textdistance.Cosine(external=False),
    "damerau_levenshtein": textdistance.DamerauLevenshtein(external=False),
}
# What metrics/asr.json holds (with each one's interval); evaluate_asr writes the
# rest of its results (parameter count, the model's settings) to asr_details.json.
# The headline first (hw2.oct.metric_keys.METRICS says why).
TEST_METRICS = ("cer", "wer", "loss", *SIMILARITIES)


def similarities(
    reference: Sequence[int], hypothesis: Sequence[int]
) -> dict[str, float]:
    """Normalised similarities in [0, 1] of two token sequences cut after stop."""
    ref, hyp = cut_after_stop(reference), cut_after_stop(hypothesis)
    return {
        name: float(m.normalized_similarity(ref, hyp))
        for name, m in SIMILARITIES.items()
    }


def clip_similarities(
    references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]
) -> dict[str, list[float]]:
    """Each similarity of each pair of token sequences, in order."""
    if len(references) != len(hypotheses) or not references:
        raise ValueError("need as many hypotheses as references, at least one")
    scores: dict[str, list[float]] = {name: [] for name in SIMILARITIES}
    for ref, hyp in zip(references, hypotheses, strict=True):
        for name, value in similarities(ref, hyp).items():
            scores[name].append(value)
    return scores


def mean_similarities(
    references: Sequence[Sequence[int]],
    hypotheses: Sequence[Sequence[int]],
    clip_scores: dict[str, list[float]] | None = None,
) -> dict[str, float]:
    """Mean of each similarity over pairs of token sequences (from clip_scores,
    clip_similarities' result, when given)."""
    if clip_scores is None:
        clip_scores = clip_similarities(references, hypotheses)
    return {name: sum(values) / len(values) for name, values in clip_scores.items()}


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
    references: Sequence[Sequence[int]],
    hypotheses: Sequence[Sequence[int]],
    clip_scores: dict[str, list[float]] | None = None,
) -> dict[str, float]:
    """Similarities on tokens plus CER/WER on the decoded strings."""
    out = mean_similarities(references, hypotheses, clip_scores)
    out.update(
        error_rates([decode(r) for r in references], [decode(h) for h in hypotheses])
    )
    return out


def _edit_counts(process, reference: str, hypothesis: str) -> tuple[int, int]:
    out = process([reference], [hypothesis])
    errors = out.substitutions + out.deletions + out.insertions
    return errors, out.substitutions + out.deletions + out.hits


def confidence_intervals(
    references: Sequence[Sequence[int]],
    hypotheses: Sequence[Sequence[int]],
    *,
    clip_scores: dict[str, list[float]] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """95% bootstrap intervals over clips: `<metric>_ci95: [low, high]`.

    The similarities are means over clips, so their clip scores are resampled;
    CER and WER are corpus ratios (all edits / all reference characters or
    words, as jiwer computes them), so each resample recomputes that ratio from
    per-clip counts rather than averaging per-clip rates. clip_scores:
    clip_similarities' result, if already computed.
    """
    scores = clip_scores or clip_similarities(references, hypotheses)
    refs = [decode(r) for r in references]
    hyps = [decode(h) for h in hypotheses]
    counts = {
        "cer": [
            _edit_counts(jiwer.process_characters, r, h)
            for r, h in zip(refs, hyps, strict=True)
        ],
        "wer": [
            _edit_counts(jiwer.process_words, r, h)
            for r, h in zip(refs, hyps, strict=True)
        ],
    }
    out = {}
    for name, values in scores.items():
        out[f"{name}_ci95"] = list(bootstrap_ci(values, n_boot=n_boot, seed=seed))
    for name, rows in counts.items():
        ci = bootstrap_ci(np.array(rows), ratio_of_sums, n_boot=n_boot, seed=seed)
        out[f"{name}_ci95"] = list(ci)
    return out


def metrics_with_intervals(
    references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]
) -> dict[str, float | list[float]]:
    """asr_metrics with each value's 95% interval beside it (`cer`, `cer_ci95`,
    ...), the similarities of each clip computed once for both."""
    scores = clip_similarities(references, hypotheses)
    intervals = confidence_intervals(references, hypotheses, clip_scores=scores)
    out: dict[str, float | list[float]] = {}
    for name, value in asr_metrics(references, hypotheses, scores).items():
        out[name] = value
        out[f"{name}_ci95"] = intervals[f"{name}_ci95"]
    return out

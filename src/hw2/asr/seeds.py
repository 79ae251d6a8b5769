"""ASR metrics over several training seeds: the mean, the spread between seeds and
a 95 % interval that covers both the test clips and the seeds.

The CNN's seeds are aggregated by hw2.core.stats.bootstrap_ci_over_runs; the ASR
needs the same resampling for corpus ratios too (CER and WER: all edits over all
reference characters or words), so each resample here divides the sum of the
drawn numerators by the sum of the drawn denominators. A similarity's
denominators are ones, which makes the ratio a mean, as the CNN's.

The inputs are token sequences, as evaluate_asr scores them; `transcript_tokens`
recovers them from metrics/asr_transcripts.tsv, which stores decoded text, so
that `make homework` can aggregate runs from their commits alone. Nothing here is
imported by a stage: the seeds are aggregated after the runs.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import jiwer
import numpy as np

# _edit_counts is the per-clip count the one-seed intervals resample; sharing it
# keeps one definition of a clip's edits (hw2.asr.metrics is a stage dependency,
# so a public alias there would rerun the ASR stages for nothing).
from hw2.asr.metrics import SIMILARITIES, _edit_counts, clip_similarities
from hw2.core.stats import mean_std
from hw2.speech.text import MAX_TOKENS, decode, encode

N_BOOT = 2000  # as the CNN's interval over seeds and images
SEED = 0
ERROR_RATES = ("cer", "wer")
METRICS = (*SIMILARITIES, *ERROR_RATES)  # scored per clip; the loss is not
_CHUNK = 256  # resamples at once: bounds memory at (chunk, runs, items)


def transcript_tokens(text: str) -> list[int]:
    """The token sequence the metrics scored for a transcript's decoded text.

    Decoding drops the start and stop tokens; a greedy hypothesis that never
    stopped ran to MAX_TOKENS - 1 characters and has no stop token, every other
    transcript stopped. (Padding or start tokens a model emitted before its stop
    are dropped by decoding too and cannot be recovered: they never win the
    argmax of a trained model, as neither is ever a training target.)
    """
    ids = encode(text, max_tokens=len(text) + 2)[0].tolist()
    return ids[:-1] if len(text) >= MAX_TOKENS - 1 else ids


@dataclass(frozen=True)
class SeedScores:
    """What each metric sums, per seed and test clip: `num[m]` (seeds, clips) over
    `den[m]` (the same shape; None for a mean over clips), and each seed's loss."""

    num: dict[str, np.ndarray]
    den: dict[str, np.ndarray | None]
    losses: tuple[float, ...] | None = None

    @property
    def seeds(self) -> int:
        """How many seeds."""
        return next(iter(self.num.values())).shape[0]

    def per_seed(self, name: str) -> list[float]:
        """Each seed's corpus figure of a metric."""
        num, den = self.num[name], self.den[name]
        if den is None:  # summed as mean_similarities sums, to the last digit
            return [sum(row.tolist()) / len(row) for row in num]
        return (num.sum(1) / den.sum(1)).tolist()


def score_seeds(
    references: Sequence[Sequence[int]],
    hypotheses: Sequence[Sequence[Sequence[int]]],
    losses: Sequence[float] | None = None,
) -> SeedScores:
    """Per-clip scores of each seed's hypotheses (one list per seed, in the
    references' order) against the same references."""
    if not hypotheses:
        raise ValueError("no seed's hypotheses")
    if losses is not None and len(losses) != len(hypotheses):
        raise ValueError(f"{len(losses)} losses for {len(hypotheses)} seeds")
    refs = [decode(r) for r in references]
    process = {"cer": jiwer.process_characters, "wer": jiwer.process_words}
    num: dict[str, list] = {name: [] for name in METRICS}
    den: dict[str, list] = {name: [] for name in ERROR_RATES}
    for hyps in hypotheses:
        for name, values in clip_similarities(references, hyps).items():
            num[name].append(values)
        texts = [decode(h) for h in hyps]
        for name, fn in process.items():
            counts = [_edit_counts(fn, r, h) for r, h in zip(refs, texts, strict=True)]
            num[name].append([c[0] for c in counts])
            den[name].append([c[1] for c in counts])
    return SeedScores(
        {k: np.asarray(v, dtype=np.float64) for k, v in num.items()},
        {k: np.asarray(den[k], dtype=np.float64) if k in den else None for k in num},
        None if losses is None else tuple(float(v) for v in losses),
    )


def _resampled(
    scores: SeedScores, name: str, items: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The metric's ratio in each resample: `items` (k, clips) drawn once for all
    compared configurations, the seeds drawn here with replacement."""
    num, den = scores.num[name], scores.den[name]
    runs = num.shape[0]
    pick = (rng.integers(0, runs, (len(items), runs))[:, :, None], items[:, None, :])
    total = num[pick].sum((1, 2))
    return total / (den[pick].sum((1, 2)) if den is not None else runs * items.shape[1])


def _interval(
    draw, clips: int, n_boot: int, level: float, seed: int
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for start in range(0, n_boot, _CHUNK):
        k = min(_CHUNK, n_boot - start)
        boots[start : start + k] = draw(rng.integers(0, clips, (k, clips)), rng)
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return float(low), float(high)


def interval(
    scores: SeedScores,
    name: str,
    *,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile interval of a metric over resamples of the test clips (the same
    draw for every seed: they transcribed the same clips) and of the seeds, both
    with replacement, as hw2.core.stats.bootstrap_ci_over_runs does for a mean."""
    clips = scores.num[name].shape[1]
    return _interval(
        lambda items, rng: _resampled(scores, name, items, rng),
        clips,
        n_boot,
        level,
        seed,
    )


def difference(
    a: SeedScores,
    b: SeedScores,
    name: str,
    *,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """b − a of a metric (means over seeds) and its percentile interval: each
    resample draws the test clips once for both (paired: the same clips) and
    each side's seeds apart (independent trainings)."""
    if a.num[name].shape[1] != b.num[name].shape[1]:
        raise ValueError("the two configurations were scored on different clips")
    delta = float(np.mean(b.per_seed(name)) - np.mean(a.per_seed(name)))
    low, high = _interval(
        lambda items, rng: (
            _resampled(b, name, items, rng) - _resampled(a, name, items, rng)
        ),
        a.num[name].shape[1],
        n_boot,
        level,
        seed,
    )
    return delta, low, high


def _summary(name: str, per_seed: Sequence[float]) -> dict[str, float | list[float]]:
    mean, std = mean_std(per_seed)
    out: dict[str, float | list[float]] = {name: mean}
    if std is not None:
        out[f"{name}_std"] = std
    out[f"{name}_per_seed"] = [float(v) for v in per_seed]
    return out


def summarise(
    scores: SeedScores, *, n_boot: int = N_BOOT, seed: int = SEED
) -> dict[str, float | int | list[float]]:
    """Each metric over seeds under the CNN's keys: `<m>` (the mean over seeds),
    `<m>_std`, `<m>_per_seed`, `<m>_ci95`, and the file-level `seeds`.

    Each seed's value is its corpus figure (a similarity's mean over clips,
    CER/WER as ratios of summed edits), so the mean over seeds is the pooled
    figure of all the seeds' clips. The loss is known only as a number per seed
    (per-clip loss is not stored): its mean, std and per-seed values, no
    interval. With one seed there is no std and the interval covers clips only.
    """
    out: dict[str, float | int | list[float]] = {}
    if scores.losses is not None:
        out.update(_summary("loss", scores.losses))
    for name in METRICS:
        out.update(_summary(name, scores.per_seed(name)))
        out[f"{name}_ci95"] = list(interval(scores, name, n_boot=n_boot, seed=seed))
    out["seeds"] = scores.seeds
    return out

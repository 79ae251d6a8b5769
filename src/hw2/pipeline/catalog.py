"""What the pipeline's numbers are: files, names, units, which way is better, noise.

Every report reads the metrics files through this module, so a renamed key or a
moved file is changed here once. A metric's noise sits beside it:
`<key>_per_seed` (its spread over training seeds is their std: seed_std),
`<key>_ci95` ([low, high]), or a `<key>_std` with a file-level `seeds` count; a
study that writes those keys needs no change here.
"""

import fnmatch
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hw2.core.stats import mean_std
from hw2.oct import metric_keys as cnn_names

# Paths as dvc.yaml declares them (`dvc exp show` keys its metrics by these).
CNN_JSON = "metrics/cnn.json"
CNN_CONFUSION = "metrics/cnn_confusion.csv"
CNN_PLOTS = "metrics/train_cnn/plots/metrics"
ASR_JSON = "metrics/asr.json"
ASR_TRANSCRIPTS = "metrics/asr_transcripts.tsv"
ASR_PLOTS = "metrics/train_asr/plots/metrics"
# The ASR's spread over seeds that `make homework` measured (git-tracked, no
# stage's output: hw2.pipeline.seed_record)
ASR_SEEDS = "metrics/asr_seeds.json"
ATTENTION_JSON = "metrics/attention.json"
# Each evaluation's plain output beside its metrics (per-class accuracy, seed
# count, parameter counts, the benchmark's whole record); read where present.
CNN_DETAILS = "metrics/cnn_details.json"
ASR_DETAILS = "metrics/asr_details.json"
ATTENTION_DETAILS = "metrics/attention_details.json"
ATTENTION_TIME = "metrics/attention_time.csv"
ATTENTION_MEMORY = "metrics/attention_memory.csv"
ATTENTION_ERROR = "metrics/attention_error.csv"
# What the download and preprocessing stages recorded about the data they made.
DATA_SHAPE = {
    "images": "metrics/images.json",
    "speech": "metrics/speech_preprocess.json",
}
# The data each metrics file's numbers come from (params `data.<branch>.*`).
DATA_OF = dict.fromkeys([CNN_JSON, CNN_DETAILS, CNN_CONFUSION], "images")
DATA_OF |= dict.fromkeys([ASR_JSON, ASR_DETAILS], "speech")
BRANCH_STUDY = {"images": "CNN", "speech": "ASR"}

CI_SUFFIX, STD_SUFFIX, SEEDS_SUFFIX = "_ci95", "_std", "_per_seed"
SEEDS_KEY = cnn_names.SEEDS  # a file's number of training seeds
Z95 = 1.96


@dataclass(frozen=True)
class Metric:
    """A number people compare: where it is, its name, unit and good direction."""

    path: str
    key: str
    label: str
    better: str | None = None  # "higher", "lower" or None (neither)
    unit: str = ""  # "", "count", "s", "B", "x" (a ratio) or "tokens"
    headline: bool = False


# The numbers each study is judged by, in the order tables show them: path, key,
# label, better, unit, headline.
_C, _D, _A, _S = CNN_JSON, CNN_DETAILS, ATTENTION_JSON, "McLaurin attention speed-up"
_MEM, _E = "Attention peak memory, softmax ÷ McLaurin", "McLaurin attention's"
METRICS = tuple(
    Metric(*row)
    for row in [
        (_C, "test_acc", "CNN test accuracy", "higher", "", True),
        (_C, "val_acc", "CNN validation accuracy", "higher"),
        (_D, "train_loss", "CNN training loss", "lower"),
        (_D, "n_params", "CNN parameters", None, "count"),
        (ASR_JSON, "cer", "ASR test CER", "lower", "", True),
        (ASR_JSON, "wer", "ASR test WER", "lower", "", True),
        (ASR_JSON, "jaccard", "ASR test Jaccard similarity", "higher"),
        (ASR_JSON, "cosine", "ASR test cosine similarity", "higher"),
        (ASR_JSON, "damerau_levenshtein", "ASR test Damerau-Levenshtein", "higher"),
        (ASR_JSON, "loss", "ASR test loss", "lower"),
        (ASR_DETAILS, "n_params", "ASR parameters", None, "count"),
        (_A, "speedup", f"{_S} at the longest length", "higher", "x", True),
        (_A, "speedup_causal", f"{_S}, causal", "higher", "x"),
        (_A, "memory_ratio", _MEM, "higher", "x"),
        (_A, "memory_ratio_causal", f"{_MEM}, causal", "higher", "x"),
        (_A, "rel_error", f"{_E} relative error", "lower"),
        (_A, "rel_error_causal", f"{_E} relative error, causal", "lower"),
        # the headline's name before metrics/attention.json kept only headlines
        (_A, "speedup_at_max_len", f"{_S} at the longest length", "higher", "x", True),
    ]
)
_BY_KEY = {(m.path, m.key): m for m in METRICS}

# Which way is good for a metric the list above does not name, by its dotted key
# (first match wins): (pattern, better, unit).
_RULES = """settings.*:: *n_params*::count *speedup*:higher:x *memory_ratio*:higher:x
*seconds*:lower:s *peak_bytes*:lower:B *crossover_len*:lower:tokens *rel_error*:lower:
*acc*:higher: *jaccard*:higher: *cosine*:higher: *damerau_levenshtein*:higher:
*similarity*:higher: *loss*:lower: *cer*:lower: *wer*:lower:"""
RULES = tuple((p, b or None, u) for p, b, u in (r.split(":") for r in _RULES.split()))


def describe(path: str, key: str) -> Metric:
    """The catalogue's entry for a metric, or one made from RULES."""
    rule = next((r[1:] for r in RULES if fnmatch.fnmatchcase(key, r[0])), (None, ""))
    return _BY_KEY.get((path, key)) or Metric(path, key, key, *rule)


def headlines() -> list[Metric]:
    return [m for m in METRICS if m.headline]


def direction(metric: Metric, delta: float | None) -> str:
    """'better', 'worse', or '' when the metric has no good direction or no change."""
    if metric.better is None or not delta:
        return ""
    return "better" if (delta > 0) == (metric.better == "higher") else "worse"


# Units shown with a prefix that suits the size: (factor, suffix), largest first.
_SCALES = {
    "s": ((1.0, " s"), (1e-3, " ms"), (1e-6, " µs")),
    "B": ((2**30, " GiB"), (2**20, " MiB"), (2**10, " KiB"), (1.0, " B")),
}
SIGNIFICANT = 4


@dataclass(frozen=True)
class Scale:
    """How a group of numbers is written: divided by `factor`, to `decimals`,
    with thousands separators and no exponent."""

    factor: float = 1.0
    decimals: int = 0
    suffix: str = ""

    def text(self, value: float) -> str:
        return f"{value / self.factor:,.{self.decimals}f}{self.suffix}"

    def rounded(self, value: float) -> float:
        return round(value / self.factor, self.decimals)

    def delta(self, old: float, new: float) -> str:
        """new − old as shown: the signed difference of the shown values."""
        d = self.rounded(new) - self.rounded(old)
        return f"{d:+,.{self.decimals}f}{self.suffix}"


def scale_for(values: list[float], unit: str = "") -> Scale:
    """One Scale for numbers shown side by side: whole numbers stay whole, others
    get SIGNIFICANT digits at the largest value's size."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    top = max(finite, default=0.0)
    scales = _SCALES.get(unit, ((1.0, "×" if unit == "x" else ""),))
    factor, suffix = next((s for s in scales if top >= s[0]), scales[-1])
    whole = bool(finite) and all(float(v).is_integer() for v in values)
    if (whole or unit == "count") and unit not in _SCALES:
        return Scale(factor, 0, suffix)
    scaled = top / factor
    decimals = SIGNIFICANT - 1 - (math.floor(math.log10(scaled)) if scaled else 0)
    return Scale(factor, min(max(decimals, 0), 10), suffix)


def seed_std(lookup: Callable[[str], Any], key: str) -> float | None:
    """A metric's std over training seeds: `<key>_std` where a file writes one
    (the seed record, a details file), else that of `<key>_per_seed`. The
    metrics files keep only the list: DVC's tables leave lists out, and a std
    column would push the next study's headline out of `dvc exp show`."""
    std = lookup(key + STD_SUFFIX)
    if not isinstance(std, int | float) or isinstance(std, bool):
        values = lookup(key + SEEDS_SUFFIX)
        numbers = isinstance(values, list) and len(values) > 1
        numbers = numbers and all(isinstance(v, int | float) for v in values)
        std = mean_std(values)[1] if numbers else None
    return float(std) if std is not None and math.isfinite(std) else None


def spread_text(
    value: float,
    std: float | None = None,
    ci: Sequence[float | None] | None = None,
    scale: Scale | None = None,
    sign: bool = False,
) -> str:
    """value ± std [low, high] at one scale (the value's unless given); no
    interval where `ci` or one of its ends is None."""
    scale = scale or scale_for([value])
    text = scale.delta(0, value) if sign else scale.text(value)
    text += "" if std is None else f" ± {scale.text(std)}"
    if ci is None or None in ci:
        return text
    return text + f" [{scale.text(ci[0])}, {scale.text(ci[1])}]"


def human(value: float, unit: str = "") -> str:
    """One number as people read it (see scale_for)."""
    return scale_for([value], unit).text(value)


def short(value: float) -> str:
    """A setting or a count as written (1,024, 0.01, 1.293)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 10 ** (SIGNIFICANT - 1):
        return f"{value:,.0f}"
    text = f"{value:.{SIGNIFICANT}g}"
    return text if "e" not in text else f"{value:.{SIGNIFICANT + 6}f}".rstrip("0")

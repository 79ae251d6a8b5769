"""Metrics of two revisions compared with their noise: which changes are real.

Every metrics file dvc.yaml declares is read at both revisions. A metric `X` may
come with its noise beside it: `X_ci95: [low, high]` (a 95% interval) or `X_std`
(the spread over seeds, with `X_per_seed` giving their number). The rule:

* a change is listed only when it shows at the reported precision (whole
  numbers in full, others to SIGNIFICANT_DIGITS significant digits): a loss
  moving in the 7th digit is not a change;
* it is *beyond noise* when |Δ| > √(a² + b²), where a and b are the two sides'
  95% half-widths (each taken on the side facing the other value; from `X_std`,
  1.96·std/√n for a mean of n seeds). That is the 95% interval of a difference
  of two independent estimates; it is less strict than "the intervals do not
  overlap" (|Δ| > a + b). A side without an interval borrows the other's;
* with no interval on either side the change is listed as *no interval*: only the
  precision rule applies.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from hw2.core.errors import DataError
from hw2.pipeline.dvc import RevisionFiles
from hw2.pipeline.runs import ASR_JSON, ATTENTION_JSON, CNN_JSON, flatten

SIGNIFICANT_DIGITS = 4
Z95 = 1.96
CI_SUFFIX, STD_SUFFIX, SEEDS_SUFFIX = "_ci95", "_std", "_per_seed"


@dataclass(frozen=True)
class Headline:
    """A metric the comment leads with."""

    label: str
    path: str
    key: str


# The headline numbers of each study, in the order the comment shows them.
HEADLINES = (
    Headline("CNN test accuracy", CNN_JSON, "test_acc"),
    Headline("ASR test CER", ASR_JSON, "cer"),
    Headline("ASR test WER", ASR_JSON, "wer"),
    Headline("attention speedup at the longest length", ATTENTION_JSON, "speedup"),
)


@dataclass(frozen=True)
class Value:
    """A metric's value at one revision and its 95% interval, when it has one."""

    value: float
    low: float | None = None
    high: float | None = None

    def half_width(self, towards: float) -> float | None:
        """The interval's half-width on the side facing `towards`."""
        if self.low is None or self.high is None:
            return None
        return (
            self.high - self.value if towards >= self.value else self.value - self.low
        )


@dataclass(frozen=True)
class Change:
    """One metric at both revisions (None: absent there) and its verdict."""

    path: str
    key: str
    old: Value | None
    new: Value | None

    @property
    def changed(self) -> bool:
        """Whether the change shows at the reported precision."""
        if self.old is None or self.new is None:
            return self.old is not self.new
        return rounded(self.old.value) != rounded(self.new.value)

    @property
    def delta(self) -> float | None:
        """new − old, None unless both sides have the metric."""
        if self.old is None or self.new is None:
            return None
        return self.new.value - self.old.value

    @property
    def verdict(self) -> str:
        """unchanged, new, removed, within noise, beyond noise or no interval."""
        if not self.changed:
            return "unchanged"
        if self.old is None or self.new is None:
            return "new" if self.old is None else "removed"
        a = self.old.half_width(self.new.value)
        b = self.new.half_width(self.old.value)
        if a is None and b is None:
            return "no interval"
        a = b if a is None else a
        b = a if b is None else b
        beyond = abs(self.new.value - self.old.value) > math.hypot(a, b)
        return "beyond noise" if beyond else "within noise"


def rounded(value: float) -> str:
    """The value as reported: whole numbers in full (parameter counts), others to
    SIGNIFICANT_DIGITS significant digits."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{SIGNIFICANT_DIGITS}g}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _interval(
    flat: Mapping[str, Any], key: str, value: float
) -> tuple[float | None, float | None]:
    ci = flat.get(key + CI_SUFFIX)
    if isinstance(ci, list | tuple) and len(ci) == 2:
        low, high = _number(ci[0]), _number(ci[1])
        if low is not None and high is not None:
            return min(low, value), max(high, value)
    std = _number(flat.get(key + STD_SUFFIX))
    if std is not None:
        seeds = flat.get(key + SEEDS_SUFFIX)
        n = len(seeds) if isinstance(seeds, list) and seeds else 1
        half = Z95 * std / math.sqrt(n)
        return value - half, value + half
    return None, None


def _is_companion(key: str, flat: Mapping[str, Any]) -> bool:
    for suffix in (CI_SUFFIX, STD_SUFFIX, SEEDS_SUFFIX):
        if key.endswith(suffix) and key[: -len(suffix)] in flat:
            return True
    return False


def metric_values(tree: Any) -> dict[str, Value]:
    """A metrics file's numbers by dotted key, with their intervals; the interval
    and seed keys themselves are not metrics."""
    flat = flatten(tree)
    values = {}
    for key, raw in flat.items():
        number = _number(raw)
        if number is None or _is_companion(key, flat):
            continue
        values[key] = Value(number, *_interval(flat, key, number))
    return values


def metric_paths(dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The metrics files dvc.yaml declares: stages' `metrics:` and top-level ones."""
    entries: list[Any] = list(dvc_yaml.get("metrics") or [])
    stages = dvc_yaml.get("stages")
    for stage in stages.values() if isinstance(stages, dict) else []:
        if isinstance(stage, dict):
            entries += list(stage.get("metrics") or [])
    paths: dict[str, None] = {}
    for entry in entries:
        if isinstance(entry, str):
            paths[entry] = None
        elif isinstance(entry, dict):
            paths.update(dict.fromkeys(str(k) for k in entry))
    return list(paths)


def read_metrics(files: RevisionFiles, paths: Iterable[str]) -> dict[str, dict]:
    """The metrics files present at a revision, as {path: {key: Value}}."""
    out = {}
    for path in paths:
        data = files.read_bytes(path)
        if data is None:
            continue
        try:
            text = data.decode()
            tree = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            where = files.rev or "workspace"
            raise DataError(f"{path} ({where}): cannot read metrics ({exc})") from exc
        out[path] = metric_values(tree)
    return out


def compare(
    base: Mapping[str, Mapping[str, Value]], head: Mapping[str, Mapping[str, Value]]
) -> list[Change]:
    """Every metric of either side, in file order (head's files first)."""
    changes = []
    for path in dict.fromkeys([*head, *base]):
        old, new = base.get(path, {}), head.get(path, {})
        for key in dict.fromkeys([*new, *old]):
            changes.append(Change(path, key, old.get(key), new.get(key)))
    return changes


def split_headlines(
    changes: Iterable[Change], headlines: Iterable[Headline] = HEADLINES
) -> tuple[list[tuple[str, Change]], list[Change]]:
    """(label, change) of the headline metrics present, in HEADLINES order; the rest."""
    by_key = {(c.path, c.key): c for c in changes}
    heads = [
        (h.label, by_key.pop((h.path, h.key)))
        for h in headlines
        if (h.path, h.key) in by_key
    ]
    return heads, list(by_key.values())

"""Metrics of two revisions compared with their noise: which changes are real.

Every metrics file dvc.yaml declares is read at both revisions, except dvclive's
summaries (their numbers are the curves' last points, which the plots compare).
A metric's noise is read from the keys beside it (hw2.pipeline.catalog):

* **seed-aware**: the value is a mean over n > 1 training seeds (`<key>_per_seed`
  or the file's `seeds`), with `<key>_std` their standard deviation; its 95 %
  interval is `<key>_ci95` when given (the CNN's resamples seeds and test
  images), else mean ± 1.96·std/√n;
* **one seed**: only `<key>_ci95`, over test items for a single training run
  (the ASR's, today): it leaves out run-to-run noise, which it understates;
* **none**.

The verdict of a change:

* *unchanged* unless it shows at the precision the tables print
  (catalog.scale_for): a loss moving in its 7th digit is no change;
* *different data* when the data behind the file changed (hw2.pipeline.checks):
  no noise rule applies;
* *within noise* when |Δ| ≤ √(a² + b²), a and b the two sides' 95 % half-widths
  (each on the side facing the other value; a side without one borrows the
  other's): the 95 % interval of a difference of two independent estimates;
* otherwise *beyond noise* if both sides are seed-aware, and *noise unknown:
  one seed* if an interval was over one seed's test items only;
* *no interval* when neither side has one.

A one-seed ASR run borrows the seed spread `make homework` measured
(metrics/asr_seeds.json, hw2.pipeline.seed_record) when its revision's dvc.lock
matches the record's fingerprint: each side of its interval becomes
√(clip² + (1.96·std)²), the clip half-width and the record's std over seeds, and
it counts as seed-aware, its label naming the record. Without a matching record
its label says how to measure the spread (`read_value`).
"""

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hw2.core.errors import DataError
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline import catalog
from hw2.pipeline.catalog import Metric, Scale, describe, scale_for
from hw2.pipeline.dvc import RevisionFiles
from hw2.pipeline.runs import flatten
from hw2.pipeline.seed_record import LOCK, Match, match, read_record

UNCHANGED, NEW, REMOVED = "unchanged", "new", "removed"
WITHIN, BEYOND, ONE_SEED = "within noise", "beyond noise", "noise unknown: one seed"
NO_INTERVAL, OTHER_DATA = "no interval", "different data"
MEASURE = "run make homework to measure the seed spread"


@dataclass(frozen=True)
class Value:
    """A metric's value at one revision with its noise.

    `std` is the standard deviation over `seeds` training seeds (None with one);
    (low, high) a 95 % interval, over seeds when seeds > 1, else over the test
    items of one run, widened by a seed spread measured apart when `spread`
    names where that came from. `hint`: how a one-seed value's seed spread
    could be measured.
    """

    value: float
    low: float | None = None
    high: float | None = None
    std: float | None = None
    seeds: int = 1
    spread: str = ""
    hint: str = ""

    @property
    def seed_aware(self) -> bool:
        """Whether the noise includes run-to-run variation: more than one seed, or
        one seed with a seed spread measured apart."""
        return self.seeds > 1 or bool(self.spread)

    @property
    def has_interval(self) -> bool:
        """Whether a 95 % interval is known."""
        return self.low is not None and self.high is not None

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
    other_data: bool = False  # the data behind the file changed

    @property
    def metric(self) -> Metric:
        """The catalogue's description (label, unit, good direction)."""
        return describe(self.path, self.key)

    @property
    def scale(self) -> Scale:
        """How both sides are written, so that they compare digit by digit."""
        values = [v.value for v in (self.old, self.new) if v is not None]
        return scale_for(values, self.metric.unit)

    @property
    def changed(self) -> bool:
        """Whether the change shows at the printed precision."""
        if self.old is None or self.new is None:
            return self.old is not self.new
        scale = self.scale
        return scale.rounded(self.old.value) != scale.rounded(self.new.value)

    @property
    def delta(self) -> float | None:
        """new − old, None unless both sides have the metric."""
        if self.old is None or self.new is None:
            return None
        return self.new.value - self.old.value

    @property
    def direction(self) -> str:
        """'better', 'worse' or '' (no good direction, or no change)."""
        if not self.changed:
            return ""
        return catalog.direction(self.metric, self.delta)

    @property
    def verdict(self) -> str:
        """See the module's docstring."""
        if not self.changed:
            return UNCHANGED
        if self.old is None or self.new is None:
            return NEW if self.old is None else REMOVED
        if self.other_data:
            return OTHER_DATA
        a = self.old.half_width(self.new.value)
        b = self.new.half_width(self.old.value)
        if a is None and b is None:
            return NO_INTERVAL
        a = b if a is None else a
        b = a if b is None else b
        if abs(self.new.value - self.old.value) <= math.hypot(a, b):
            return WITHIN
        both_seeds = self.old.seed_aware and self.new.seed_aware
        return BEYOND if both_seeds else ONE_SEED

    @property
    def label(self) -> str:
        """The verdict with where a seed spread came from, or how to measure it."""
        verdict = self.verdict
        sides = [v for v in (self.old, self.new) if v is not None]
        if verdict in (WITHIN, BEYOND):
            spreads = list(dict.fromkeys(v.spread for v in sides if v.spread))
            return f"{verdict} ({'; '.join(spreads)})" if spreads else verdict
        hints = list(dict.fromkeys(v.hint for v in sides if v.hint))
        if verdict == ONE_SEED and hints:
            return f"{verdict}; {'; '.join(hints)}"
        return verdict


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _seeds(flat: Mapping[str, Any], key: str) -> int:
    per_seed = flat.get(key + catalog.SEEDS_SUFFIX)
    if isinstance(per_seed, list) and per_seed:
        return len(per_seed)
    if key + catalog.STD_SUFFIX in flat:
        count = _number(flat.get(catalog.SEEDS_KEY))
        if count is not None and count >= 1:
            return int(count)
    return 1


def read_value(
    flat: Mapping[str, Any], key: str, value: float, record: Match | None = None
) -> Value:
    """A metric with its noise, read from the keys beside it: the one place that
    tells a seed-aware interval from a one-seed one.

    `record`: what metrics/asr_seeds.json says of this revision's run, for the
    metrics it can describe (the ASR's). A one-seed value takes the matching
    configuration's seed spread, or a hint when none matches (`seed_spread`).
    """
    seeds = _seeds(flat, key)
    std = _number(flat.get(key + catalog.STD_SUFFIX)) if seeds > 1 else None
    ci = flat.get(key + catalog.CI_SUFFIX)
    out = Value(value, seeds=seeds)
    if isinstance(ci, list | tuple) and len(ci) == 2:
        low, high = _number(ci[0]), _number(ci[1])
        if low is not None and high is not None:
            out = Value(value, min(low, value), max(high, value), std, seeds)
    if not out.has_interval and std is not None:
        half = catalog.Z95 * std / math.sqrt(seeds)
        out = Value(value, value - half, value + half, std, seeds)
    if record is None or seeds > 1:
        return out
    return seed_spread(out, key, record)


def seed_spread(value: Value, key: str, record: Match) -> Value:
    """A one-seed value judged with the seed spread of the record's matching
    configuration: each side of its interval (none: zero) widened to
    √(clip² + (1.96·std)²), std the record's over seeds. Unchanged, with a hint
    to measure it, when no configuration matches or it has no std."""
    std = _number(record.metrics.get(key + catalog.STD_SUFFIX))
    if record.name is None or std is None:
        return replace(value, hint=MEASURE)
    seed = catalog.Z95 * std
    v = value.value
    below = v - value.low if value.low is not None else 0.0
    above = value.high - v if value.high is not None else 0.0
    low, high = v - math.hypot(below, seed), v + math.hypot(above, seed)
    return Value(v, low, high, spread=f"seed spread: {record.label}")


def _is_companion(key: str, flat: Mapping[str, Any]) -> bool:
    if key == catalog.SEEDS_KEY:
        return True
    for suffix in (catalog.CI_SUFFIX, catalog.STD_SUFFIX, catalog.SEEDS_SUFFIX):
        if key.endswith(suffix) and key[: -len(suffix)] in flat:
            return True
    return False


def metric_values(tree: Any, record: Match | None = None) -> dict[str, Value]:
    """A metrics file's numbers by dotted key, with their noise (`record`: see
    read_value); the noise keys and the seed count are not metrics of their own."""
    flat = flatten(tree)
    values = {}
    for key, raw in flat.items():
        number = _number(raw)
        if number is None or _is_companion(key, flat):
            continue
        values[key] = read_value(flat, key, number, record)
    return values


def dvclive_summaries(dvc_yaml: Mapping[str, Any]) -> set[str]:
    """dvclive's metrics.json beside each `<dir>/plots/metrics` plots folder."""
    found = set()
    stages = dvc_yaml.get("stages")
    for stage in stages.values() if isinstance(stages, dict) else []:
        plots = stage.get("plots") if isinstance(stage, dict) else None
        for entry in plots if isinstance(plots, list) else []:
            path = entry if isinstance(entry, str) else next(iter(entry), "")
            if str(path).rstrip("/").endswith("/plots/metrics"):
                live_dir = str(path).rstrip("/")[: -len("/plots/metrics")]
                found.add(f"{live_dir}/metrics.json")
    return found


def metric_paths(dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The metrics files dvc.yaml declares (stages' and top-level), but dvclive's
    summaries, which repeat the curves' last points."""
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
    skip = dvclive_summaries(dvc_yaml)
    return [p for p in paths if p not in skip]


def read_tree(files: RevisionFiles, path: str) -> Any:
    """A JSON or YAML file at a revision, None where absent; DataError if bad."""
    data = files.read_bytes(path)
    if data is None:
        return None
    try:
        text = data.decode()
        return json.loads(text) if path.endswith(".json") else parse_yaml(text)
    except (UnicodeDecodeError, ValueError, YAMLError) as exc:
        where = files.rev or "workspace"
        raise DataError(f"{path} ({where}): cannot read ({exc})") from exc


def read_metrics(
    files: RevisionFiles,
    paths: Iterable[str],
    records: Mapping[str, Match] | None = None,
) -> dict[str, dict]:
    """The metrics files present at a revision, as {path: {key: Value}};
    `records`: what the seed records say of the files they describe."""
    out = {}
    for path in paths:
        tree = read_tree(files, path)
        if tree is not None:
            out[path] = metric_values(tree, (records or {}).get(path))
    return out


def seed_records(*sides: RevisionFiles) -> list[dict[str, Any]]:
    """metrics/asr_seeds.json of each revision where it exists: a record made at
    one of them may describe the other (the fingerprint decides)."""
    found = []
    for files in sides:
        record = read_record(
            files.read_bytes(catalog.ASR_SEEDS), files.rev or "workspace"
        )
        if record:
            found.append(record)
    return found


def seed_match(files: RevisionFiles, records: Sequence[Mapping[str, Any]]) -> Match:
    """What the records say of a revision's ASR run, by its dvc.lock."""
    return match(records, read_tree(files, LOCK))


def compare(
    base: Mapping[str, Mapping[str, Value]],
    head: Mapping[str, Mapping[str, Value]],
    other_data: Iterable[str] = (),
) -> list[Change]:
    """Every metric of either side, in file order (head's files first);
    `other_data` names the files whose data changed between the sides."""
    moved = set(other_data)
    changes = []
    for path in dict.fromkeys([*head, *base]):
        old, new = base.get(path, {}), head.get(path, {})
        for key in dict.fromkeys([*new, *old]):
            changes.append(Change(path, key, old.get(key), new.get(key), path in moved))
    return changes


def split_headlines(
    changes: Iterable[Change], headlines: Iterable[Metric] | None = None
) -> tuple[list[Change], list[Change]]:
    """The headline metrics present, in catalogue order; the rest in file order."""
    wanted = catalog.headlines() if headlines is None else list(headlines)
    by_key = {(c.path, c.key): c for c in changes}
    heads = [by_key.pop((m.path, m.key)) for m in wanted if (m.path, m.key) in by_key]
    return heads, list(by_key.values())

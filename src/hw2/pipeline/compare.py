"""Metrics of two revisions compared with their noise: which changes are real.

A metric's noise is read from the keys beside it in its file (catalog's suffixes);
the verdicts: NOISE_RULE. A change that does not show at the printed precision
(catalog.scale_for) is *unchanged*.
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
from hw2.pipeline.dvc import Revision
from hw2.pipeline.runs import flatten
from hw2.pipeline.seed_record import LOCK, Match, match, read_record

UNCHANGED, NEW, REMOVED = "unchanged", "new", "removed"
WITHIN, BEYOND, ONE_SEED = "within noise", "beyond noise", "noise unknown: one seed"
NO_INTERVAL, OTHER_DATA = "no interval", "different data"
MEASURE = "run make homework to measure the seed spread"
NOISE_RULE = (
    "± is the standard deviation over training seeds; [lo, hi] a 95 % interval "
    "(over seeds and test items for a metric with several seeds, over the test "
    "items of one training run otherwise, widened by the seed spread `make "
    "homework` measured when its record matches the run: √(clip² + (1.96·std)²) "
    "a side). **within noise**: |Δ| ≤ √(a² + b²), a and b the two sides' 95 % "
    "half-widths; **beyond noise**: larger, both sides' noise including seeds; "
    "**noise unknown: one seed**: larger than one run's interval, which leaves "
    "out run-to-run noise; **different data**: see the warning; **no "
    "interval**: nothing to judge by."
)


@dataclass(frozen=True)
class Value:
    """A metric at one revision: `std` over `seeds` seeds, (low, high) its 95 %
    interval, `spread` where a seed spread came from, `hint` how to measure one."""

    value: float
    low: float | None = None
    high: float | None = None
    std: float | None = None
    seeds: int = 1
    spread: str = ""
    hint: str = ""

    def half_width(self, towards: float) -> float | None:
        """The interval's half-width on the side facing `towards`."""
        if self.low is None or self.high is None:
            return None
        up = towards >= self.value
        return self.high - self.value if up else self.value - self.low


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
    def direction(self) -> str:
        """'better', 'worse' or '' (no good direction, absent, or no change)."""
        if not (self.changed and self.old and self.new):
            return ""
        return catalog.direction(self.metric, self.new.value - self.old.value)

    @property
    def verdict(self) -> str:
        """The noise rule: NOISE_RULE."""
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
        a = b if a is None else a  # a side without an interval borrows the other's
        b = a if b is None else b
        if abs(self.new.value - self.old.value) <= math.hypot(a, b):
            return WITHIN
        # both sides' noise includes run-to-run variation, or it is unknown
        seeds = all(v.seeds > 1 or v.spread for v in (self.old, self.new))
        return BEYOND if seeds else ONE_SEED

    @property
    def label(self) -> str:
        """The verdict with where a seed spread came from, or how to measure it."""
        verdict, sides = self.verdict, (self.old, self.new)  # both present for these
        if verdict in (WITHIN, BEYOND):
            spreads = list(dict.fromkeys(v.spread for v in sides if v.spread))
            return f"{verdict} ({'; '.join(spreads)})" if spreads else verdict
        if verdict == ONE_SEED and any(v.hint for v in sides):
            return f"{verdict}; {MEASURE}"
        return verdict


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def read_value(
    flat: Mapping[str, Any], key: str, value: float, record: Match | None = None
) -> Value:
    """A metric with its noise, read from the keys beside it; a one-seed value
    takes `record`'s seed spread, or a hint when it matches no configuration."""
    per_seed = flat.get(key + catalog.SEEDS_SUFFIX)
    count = _number(flat.get(catalog.SEEDS_KEY)) or 0  # the file's, beside a std
    if isinstance(per_seed, list) and per_seed:
        seeds = len(per_seed)
    else:
        seeds = int(count) if count >= 1 and key + catalog.STD_SUFFIX in flat else 1
    std = catalog.seed_std(flat.get, key) if seeds > 1 else None
    ci = flat.get(key + catalog.CI_SUFFIX)
    pair = ci if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None)
    low, high = map(_number, pair)
    if low is not None and high is not None:
        low, high = min(low, value), max(high, value)
    elif std is not None:
        half = catalog.Z95 * std / math.sqrt(seeds)
        low, high = value - half, value + half
    else:
        low = high = None
    out = Value(value, low, high, std, seeds)
    if record is None or seeds > 1:
        return out
    # One seed: each side of the interval (none: zero) widened by the record's
    # seed spread, √(clip² + (1.96·std)²), or a hint to measure one.
    seed_std = _number(record.metrics.get(key + catalog.STD_SUFFIX))
    if record.name is None or seed_std is None:
        return replace(out, hint=MEASURE)
    below, above = (0.0, 0.0) if low is None else (value - low, high - value)
    seed = catalog.Z95 * seed_std
    low, high = value - math.hypot(below, seed), value + math.hypot(above, seed)
    return Value(value, low, high, spread=f"seed spread: {record.label}")


def metric_values(tree: Any, record: Match | None = None) -> dict[str, Value]:
    """A metrics file's numbers by dotted key, with their noise (not metrics)."""
    flat = flatten(tree)
    suffixes = (catalog.CI_SUFFIX, catalog.STD_SUFFIX, catalog.SEEDS_SUFFIX)
    noise = {key + s for key in flat for s in suffixes} | {catalog.SEEDS_KEY}
    return {
        key: read_value(flat, key, number, record)
        for key, raw in flat.items()
        if (number := _number(raw)) is not None and key not in noise
    }


def read_tree(files: Revision, path: str) -> Any:
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


def seed_matches(base: Revision, head: Revision) -> list[Match]:
    """Each side's ASR run matched to the seed records of both sides (a record made
    at one side may describe the other: hw2.pipeline.seed_record.match)."""
    found = [
        read_record(f.read_bytes(catalog.ASR_SEEDS), f.rev or "workspace")
        for f in (head, base)
    ]
    records = [r for r in found if r]
    return [
        match(records, read_tree(f, LOCK), flatten(read_tree(f, catalog.ASR_JSON)))
        for f in (base, head)
    ]


def diff_changes(
    diff: Mapping[str, Mapping[str, Mapping[str, Any]]],
    sides: Sequence[Revision],
    records: Sequence[Mapping[str, Match]],
    other_data: Iterable[str] = (),
) -> list[Change]:
    """`dvc metrics diff --json --all`'s numbers, files by path (DVC's own file
    order follows Python's hash seed), keys in DVC's order, with their noise read
    from both sides' files (DVC skips intervals, lists std keys as metrics)."""
    moved, changes = set(other_data), []
    for path, keys in sorted(diff.items()):
        noise = [
            metric_values(read_tree(files, path), record.get(path))
            for files, record in zip(sides, records, strict=True)
        ]
        for key, numbers in keys.items():
            old, new = (
                replace(values[key], value=float(numbers[side]))
                if key in values and _number(numbers.get(side)) is not None
                else None
                for values, side in zip(noise, ("old", "new"), strict=True)
            )
            if old is not None or new is not None:
                changes.append(Change(path, key, old, new, path in moved))
    return changes


def split_headlines(
    changes: Iterable[Change], headlines: Iterable[Metric] | None = None
) -> tuple[list[Change], list[Change]]:
    """The headline metrics present, in catalogue order; the rest in file order."""
    wanted = catalog.headlines() if headlines is None else list(headlines)
    by_key = {(c.path, c.key): c for c in changes}
    heads = [by_key.pop((m.path, m.key)) for m in wanted if (m.path, m.key) in by_key]
    return heads, list(by_key.values())

"""The ASR's spread over training seeds: runs grouped by seed, and the record that
`make homework` writes (metrics/asr_seeds.json) for the one-seed default run.

Two ASR runs are the same but for the seed when their dvc.lock entries of
train_asr and evaluate_asr agree (`fingerprint`): the command, every
dependency's md5 (code and data), every param but `asr.seed`, and not the model
train_asr hands to evaluate_asr (it changes with the seed). `seed_groups` puts
such runs together and scores each seed's transcripts (read from the run's
commit) with hw2.asr.seeds.

The record holds, per configuration of the homework's grid, the seeds, each
metric's mean, std, per-seed values and interval, and the fingerprint. A
revision whose dvc.lock has that fingerprint ran that configuration with some
seed: hw2.pipeline.compare judges its one-seed ASR metrics with the record's
seed spread. Any other revision changed code, data or params since: the record
is stale there (`match` says why), and the metrics stay "noise unknown".
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hw2.asr.seeds import SeedScores, score_seeds, summarise, transcript_tokens
from hw2.core.errors import DataError
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline.catalog import ASR_JSON, ASR_SEEDS, ASR_TRANSCRIPTS, short
from hw2.pipeline.report import parse_transcripts
from hw2.pipeline.runs import ASR, Run, has_results, run_file

STAGES = ("train_asr", "evaluate_asr")
SEED_PARAM = "asr.seed"
MADE_BY = "make homework"
LOCK = "dvc.lock"


def fingerprint(lock: Any) -> dict[str, Any] | None:
    """What an ASR run was, less its seed: per stage of STAGES its cmd, deps'
    md5s and params; None when dvc.lock lacks one of the stages."""
    stages = lock.get("stages") if isinstance(lock, Mapping) else None
    if not isinstance(stages, Mapping) or not all(
        isinstance(stages.get(s), Mapping) for s in STAGES
    ):
        return None
    made = {
        o.get("path")
        for s in STAGES
        for o in stages[s].get("outs") or []
        if isinstance(o, Mapping)
    }
    out: dict[str, Any] = {}
    for name in STAGES:
        entry = stages[name]
        deps = {
            str(d.get("path")): d.get("md5")
            for d in entry.get("deps") or []
            if isinstance(d, Mapping) and d.get("path") not in made
        }
        params = {
            str(file): {k: v for k, v in sorted(values.items()) if k != SEED_PARAM}
            for file, values in (entry.get("params") or {}).items()
            if isinstance(values, Mapping)
        }
        out[name] = {"cmd": entry.get("cmd"), "deps": dict(sorted(deps.items()))}
        out[name]["params"] = params
    return out


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int | float):
        return short(float(value))
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What changed from one fingerprint to the other, one phrase each."""
    found = []
    for stage in STAGES:
        old, new = recorded.get(stage) or {}, current.get(stage) or {}
        if old.get("cmd") != new.get("cmd"):
            found.append(f"{stage}: cmd changed")
        a, b = old.get("deps") or {}, new.get("deps") or {}
        for path in sorted(set(a) | set(b)):
            if path not in b:
                found.append(f"{stage}: {path} no longer a dependency")
            elif path not in a:
                found.append(f"{stage}: {path} a new dependency")
            elif a[path] != b[path]:
                found.append(f"{stage}: {path} changed")
        pa = {k: v for f in (old.get("params") or {}).values() for k, v in f.items()}
        pb = {k: v for f in (new.get("params") or {}).values() for k, v in f.items()}
        for key in sorted(set(pa) | set(pb)):
            if pa.get(key) != pb.get(key):
                change = f"{_shown(pa.get(key))} → {_shown(pb.get(key))}"
                found.append(f"{stage}: param {key} {change}")
    return list(dict.fromkeys(found))  # a param both stages read, once


def read_record(data: bytes | None, where: str) -> dict[str, Any]:
    """The record's configurations ({} when the file is absent); DataError if bad."""
    if data is None:
        return {}
    try:
        tree = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{ASR_SEEDS} ({where}): cannot read ({exc})") from exc
    ok = isinstance(tree, dict) and all(
        isinstance(c, dict)
        and isinstance(c.get("metrics"), dict)
        and isinstance(c.get("fingerprint"), dict)
        for c in tree.values()
    )
    if not ok:
        raise DataError(
            f"{ASR_SEEDS} ({where}): expected configurations with metrics and a "
            "fingerprint"
        )
    return tree


@dataclass(frozen=True)
class Match:
    """What a record says of one revision's ASR run: the configuration it matches
    (its metrics, flat), or why the closest one does not (`stale`)."""

    name: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    seeds: int = 0
    stale: str | None = None

    @property
    def label(self) -> str:
        """Where the seed spread comes from, for the noise label."""
        return f"{MADE_BY}, {self.seeds} seeds"


def match(records: Sequence[Mapping[str, Any]], lock: Any) -> Match:
    """The configuration of any record whose fingerprint is the lock's; else the
    stale reason of the closest (the fewest differences). Match() when there is
    no record, or no ASR stage in the lock."""
    current = fingerprint(lock)
    if current is None:
        return Match()
    closest: tuple[int, str, list[str]] | None = None
    for record in records:
        for name, config in record.items():
            diff = differences(config["fingerprint"], current)
            if not diff:
                metrics = config["metrics"]
                seeds = metrics.get("seeds")
                return Match(name, metrics, seeds if isinstance(seeds, int) else 1)
            if closest is None or len(diff) < closest[0]:
                closest = (len(diff), name, diff)
    if closest is None:
        return Match()
    _, name, diff = closest
    listed = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if diff[3:] else "")
    return Match(stale=f"closest configuration `{name}`: {listed}")


def stale_warning(where: str, stale: str) -> str:
    """One line for the comment: the record does not describe `where`'s ASR run."""
    return (
        f"`{ASR_SEEDS}` is stale for {where} ({stale}): its seed spread was "
        "measured on other code, data or params, so the ASR metrics there are "
        "judged on one seed's test clips only. Run `make homework` to measure "
        "the seed spread again."
    )


@dataclass
class SeedGroup:
    """Runs that differ in asr.seed alone, one per seed, and their scores."""

    fingerprint: dict[str, Any]
    runs: list[Run]  # one per seed, in the order of `seeds`
    seeds: list[int]
    clip_ids: tuple[str, ...]
    scores: SeedScores
    same: list[Run]  # every run listed with this fingerprint and one of the seeds

    @cached_property
    def metrics(self) -> dict[str, Any]:
        """Every ASR metric over the seeds (hw2.asr.seeds.summarise)."""
        return summarise(self.scores)


def _yaml(raw: bytes | None) -> Any:
    try:
        return None if raw is None else parse_yaml(raw)
    except YAMLError:
        return None


def _transcripts(run: Run, root: Path) -> list[tuple[str, str, str]] | None:
    raw = run_file(run, root, ASR_TRANSCRIPTS)
    if raw is None:
        return None
    where = f"{ASR_TRANSCRIPTS} ({run.name})"
    return parse_transcripts(raw.decode().splitlines(), where)


def seed_groups(runs: Sequence[Run], root: str | Path) -> list[SeedGroup]:
    """Runs with ASR results grouped by fingerprint, the seeds in order, each
    seed's transcripts scored once (an experiment's, where one repeats the
    workspace or commit); a run whose dvc.lock or transcripts cannot be read
    stays out. Groups in the order of their first run."""
    root = Path(root)
    found: dict[str, tuple[dict[str, Any], dict[int, list[Run]]]] = {}
    for run in runs:
        seed = run.params.get(SEED_PARAM)
        if not isinstance(seed, int) or not has_results(run, ASR.columns):
            continue
        fp = fingerprint(_yaml(run_file(run, root, LOCK)))
        if fp is None:
            continue
        key = json.dumps(fp, sort_keys=True, default=str)
        found.setdefault(key, (fp, {}))[1].setdefault(seed, []).append(run)
    groups = []
    for fp, by_seed in found.values():
        members, seeds, hyps, losses, same = [], [], [], [], []
        refs: list[tuple[str, str]] | None = None
        for seed, listed in sorted(by_seed.items()):
            # an experiment rather than the workspace or commit it repeats, and
            # one named for the ASR (`make homework`'s asr-*) rather than a CNN
            # run that kept the ASR's params
            run = min(
                listed,
                key=lambda r: (r.kind != "experiment", not r.name.startswith("asr-")),
            )
            rows = _transcripts(run, root)
            loss = run.metric(ASR_JSON, "loss")
            if not rows or not isinstance(loss, int | float):
                continue
            pairs = [(i, ref) for i, ref, _ in rows]
            if refs is None:
                refs = pairs
            elif pairs != refs:  # the same fingerprint: the same test clips
                raise DataError(
                    f"{ASR_TRANSCRIPTS} ({run.name}): other test clips than "
                    f"{members[0].name}'s under the same dvc.lock"
                )
            members.append(run)
            seeds.append(seed)
            hyps.append([transcript_tokens(h) for _, _, h in rows])
            losses.append(float(loss))
            same += listed
        if refs is None:
            continue
        scores = score_seeds([transcript_tokens(r) for _, r in refs], hyps, losses)
        ids = tuple(i for i, _ in refs)
        groups.append(SeedGroup(fp, members, seeds, ids, scores, same))
    return groups


def build_record(configurations: Mapping[str, SeedGroup]) -> dict[str, Any]:
    """The record's content: per configuration name its runs, seeds, metrics and
    fingerprint."""
    return {
        name: {
            "made_by": MADE_BY,
            "experiments": [run.name for run in group.runs],
            "seeds": group.seeds,
            "metrics": group.metrics,
            "fingerprint": group.fingerprint,
        }
        for name, group in configurations.items()
    }

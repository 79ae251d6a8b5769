"""The ASR's spread over training seeds: runs grouped by seed, and the record that
`make homework` writes (metrics/asr_seeds.json) for the one-seed default run.

Two ASR runs differ in the seed alone when their dvc.lock entries of STAGES agree
but for `asr.seed` and `threads` (which moves the last digits, as the seed does)
and the model one hands the other (`fingerprint`). hw2.pipeline.compare judges a
revision's one-seed metrics with the spread of the configuration that `match`es
it: by fingerprint, or by results where code moved without changing a number (a
refactor keeps the record); elsewhere the record is stale.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from hw2.asr.seeds import SeedScores, score_seeds, summarise, transcript_tokens
from hw2.core.errors import DataError
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline.catalog import ASR_JSON, ASR_SEEDS, ASR_TRANSCRIPTS
from hw2.pipeline.dvc import git_file
from hw2.pipeline.report import read_transcripts
from hw2.pipeline.runs import ASR, PARAMS, get, has_results, param_text

STAGES = ("train_asr", "evaluate_asr")
SEED_PARAM = "asr.seed"
NOISE_PARAMS = (SEED_PARAM, "threads")  # left out of the fingerprint
MADE_BY = "make homework"
LOCK = "dvc.lock"


def fingerprint(lock: Any) -> dict[str, Any] | None:
    """Per stage of STAGES its cmd, deps' md5s and params less NOISE_PARAMS; None
    when dvc.lock lacks one of the stages."""
    stages = lock.get("stages") if isinstance(lock, Mapping) else None
    if not isinstance(stages, Mapping) or not all(
        isinstance(stages.get(s), Mapping) for s in STAGES
    ):
        return None
    made = {o.get("path") for s in STAGES for o in stages[s].get("outs") or []}
    found = {}
    for name in STAGES:
        entry, deps = stages[name], stages[name].get("deps") or []
        md5s = {str(d.get("path")): d.get("md5") for d in deps}
        params = entry.get("params") or {}
        found[name] = {
            "cmd": entry.get("cmd"),
            "deps": {k: v for k, v in sorted(md5s.items()) if k not in made},
            "params": {
                str(f): {k: v for k, v in sorted(ps.items()) if k not in NOISE_PARAMS}
                for f, ps in params.items()
                if isinstance(ps, Mapping)
            },
        }
    return found


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What changed from one fingerprint to the other, one phrase each."""
    found = []
    for stage in STAGES:
        old, new = recorded.get(stage) or {}, current.get(stage) or {}
        if old.get("cmd") != new.get("cmd"):
            found.append(f"{stage}: cmd changed")
        a, b = old.get("deps") or {}, new.get("deps") or {}
        for path in sorted(set(a) | set(b)):
            if path not in a or path not in b or a[path] != b[path]:
                how = "no longer a dependency" if path not in b else "changed"
                how = "a new dependency" if path not in a else how
                found.append(f"{stage}: {path} {how}")
        pa = {k: v for f in (old.get("params") or {}).values() for k, v in f.items()}
        pb = {k: v for f in (new.get("params") or {}).values() for k, v in f.items()}
        for key in sorted(set(pa) | set(pb)):
            if pa.get(key) != pb.get(key):
                change = f"{param_text(pa.get(key))} → {param_text(pb.get(key))}"
                found.append(f"{stage}: param {key} {change}")
    return found


def read_record(data: bytes | None, where: str) -> dict[str, Any]:
    """The record's configurations ({} when the file is absent); DataError if bad."""
    try:
        tree = {} if data is None else json.loads(data)
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
    """The configuration a revision's ASR run matches, or why the closest does not."""

    name: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    seeds: int = 0
    stale: str | None = None

    @property
    def label(self) -> str:
        return f"{MADE_BY}, {self.seeds} seeds"


def _holds_run(config: Mapping, diff: list[str], lock: Any, results: Mapping) -> bool:
    """Whether a configuration whose code differs (`diff`: no param among it) has,
    at the lock's seed, every metric of `results` (asr.json) to the last digit."""
    params = lock["stages"][STAGES[0]].get("params") or {}
    seed = (params.get(PARAMS) or {}).get(SEED_PARAM)
    seeds, metrics = config.get("seeds") or [], config["metrics"]
    if any(": param " in d for d in diff) or seed not in seeds or "cer" not in results:
        return False
    at = seeds.index(seed)
    return all(
        (metrics.get(f"{key}_per_seed") or [None] * len(seeds))[at] == value
        for key, value in results.items()
        if f"{key}_per_seed" in metrics
    )


def match(
    records: Sequence[Mapping[str, Any]], lock: Any, results: Mapping | None = None
) -> Match:
    """The configuration whose fingerprint is the lock's, or that holds this run
    by its `results` (asr.json's numbers); else the stale reason of the closest
    (fewest differences); Match() without a record or ASR stage."""
    current = fingerprint(lock)
    if current is None:
        return Match()
    configs = [(name, c) for record in records for name, c in record.items()]
    diffs = [differences(c["fingerprint"], current) for _, c in configs]
    for (name, config), diff in zip(configs, diffs, strict=True):
        if not diff or _holds_run(config, diff, lock, results or {}):
            seeds = config["metrics"].get("seeds")
            seeds = seeds if isinstance(seeds, int) else 1
            return Match(name, config["metrics"], seeds)
    if not diffs:
        return Match()
    (name, _), diff = min(zip(configs, diffs, strict=True), key=lambda c: len(c[1]))
    listed = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if diff[3:] else "")
    return Match(stale=f"closest configuration `{name}`: {listed}")


def stale_warning(where: str, stale: str) -> str:
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
    runs: pd.DataFrame  # one per seed, in the order of `seeds`
    seeds: list[int]
    clip_ids: tuple[str, ...]
    scores: SeedScores
    same: list[str]  # every run listed with this fingerprint and one of the seeds

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return summarise(self.scores)


def _lock(root: Path, rev: str) -> Any:
    try:
        return parse_yaml(git_file(root, rev, LOCK) or b"")
    except YAMLError:
        return None


def _seed(run: pd.Series) -> int | None:
    seed = get(run, SEED_PARAM, PARAMS)
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def seed_groups(runs: pd.DataFrame, root: str | Path) -> list[SeedGroup]:
    """The runs with ASR results grouped by fingerprint, in the order of their first
    run, seeds in order; a run whose dvc.lock or transcripts cannot be read stays
    out."""
    root = Path(root)
    if runs.empty:
        return []
    asr = runs.assign(
        seed=pd.Series([_seed(r) for _, r in runs.iterrows()], runs.index, object)
    )
    asr = asr[asr.apply(lambda r: has_results(r, ASR), axis=1) & asr["seed"].notna()]
    fps = asr["rev"].map(lambda rev: fingerprint(_lock(root, rev))).dropna()
    asr = asr.loc[fps.index].assign(
        key=fps.map(lambda fp: json.dumps(fp, sort_keys=True, default=str)),
        # per seed, an experiment rather than the commit it repeats, and one of
        # the ASR's grid rather than a CNN run that kept the ASR's params
        later=~asr["typ"].str.startswith("branch"),
        other=~asr["name"].str.startswith("asr-"),
    )
    groups = []
    for key, found in asr.groupby("key", sort=False):
        firsts = found.sort_values(["seed", "later", "other"], kind="stable")
        members, read = [], []  # the runs, their transcripts
        for _, run in firsts.drop_duplicates("seed").iterrows():
            raw = git_file(root, run["rev"], ASR_TRANSCRIPTS)
            if raw is None or not isinstance(get(run, "loss", ASR_JSON), int | float):
                continue
            read.append(read_transcripts(raw, f"{ASR_TRANSCRIPTS} ({run['name']})"))
            if not read[-1][["id", "reference"]].equals(read[0][["id", "reference"]]):
                raise DataError(
                    f"{ASR_TRANSCRIPTS} ({run['name']}): other test clips than "
                    f"{members[0]['name']}'s under the same dvc.lock"
                )
            members.append(run)
        if read and len(read[0]):
            chosen = pd.DataFrame(members)
            scores = score_seeds(
                [transcript_tokens(r) for r in read[0]["reference"]],
                [[transcript_tokens(h) for h in rows["hypothesis"]] for rows in read],
                [float(get(run, "loss", ASR_JSON)) for run in members],
            )
            same = found[found["seed"].isin(chosen["seed"])]["name"].tolist()
            seeds = chosen["seed"].tolist()
            ids = tuple(read[0]["id"])
            groups.append(SeedGroup(json.loads(key), chosen, seeds, ids, scores, same))
    return groups


def build_record(configurations: Mapping[str, SeedGroup]) -> dict[str, Any]:
    """Per configuration its runs, seeds, threads, metrics and fingerprint."""
    return {
        name: {
            "made_by": MADE_BY,
            "experiments": group.runs["name"].tolist(),
            "seeds": group.seeds,
            "threads": [get(r, "threads", PARAMS) for _, r in group.runs.iterrows()],
            "metrics": group.metrics,
            "fingerprint": group.fingerprint,
        }
        for name, group in configurations.items()
    }

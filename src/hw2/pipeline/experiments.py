"""reports/experiments.md: every run DVC lists, grouped by what it varied, ASR
seeds as one row (hw2.pipeline.seed_record), and the homework's answer.

A difference is a win only when its 95 % interval over the test clips (paired)
and each side's seeds (hw2.asr.seeds.difference) excludes zero. Kept out of the
report stage: it reads git and experiment refs, which a stage cannot declare.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hw2.asr.seeds import difference
from hw2.core.errors import Hw2Error
from hw2.core.io import write_text
from hw2.core.stats import mean_std
from hw2.pipeline.catalog import ASR_JSON, describe, scale_for, spread_text
from hw2.pipeline.markdown import cell
from hw2.pipeline.report import PLUS_MINUS
from hw2.pipeline.runs import (
    ASR,
    PARAMS,
    REFERENCES,
    STUDIES,
    exp_frame,
    get,
    grouped_tables,
    has_results,
    markdown_table,
    workspace_frame,
)
from hw2.pipeline.seed_record import SEED_PARAM, SeedGroup, differences, seed_groups

# The homework's ASR configurations: the params that make each.
CONFIGURATIONS = {
    "transformer": {"decoder": "transformer", "asr.attention": "softmax"},
    "lstm": {"decoder": "lstm", "asr.attention": "softmax"},
    "mclaurin": {"decoder": "transformer", "asr.attention": "mclaurin"},
}
LABELS = {"transformer": "Transformer", "lstm": "LSTM", "mclaurin": "McLaurin"}
# (the side compared against, the challenger, the question, and what of the
# challenger's makes the answer yes: being better, or worse)
BEAT = "Does the Transformer decoder beat the LSTM decoder?"
COST = "Does McLaurin self-attention cost accuracy?"
QUESTIONS = (
    ("lstm", "transformer", BEAT, "better"),
    ("transformer", "mclaurin", COST, "worse"),
)
SHORT = {"cer": "CER", "wer": "WER", "jaccard": "Jaccard", "cosine": "cosine"}
SHORT["damerau_levenshtein"] = "D-L"
_SEED_SUFFIX = re.compile(r"[-_]seed[-_]?\d+$")


def merged_row(group: SeedGroup) -> pd.Series:
    """A group of seeds as one row: the first run's params, the seeds listed as
    `asr.seed`, the ASR metrics over the seeds."""
    first = group.runs.iloc[0].copy()
    names = group.runs["name"].tolist()
    stems = [_SEED_SUFFIX.sub("", n) for n in names if _SEED_SUFFIX.search(n)]
    seeds = ", ".join(map(str, group.seeds))
    first["name"] = f"{(stems or names)[0]} (seeds {seeds})"
    for key, value in {SEED_PARAM: seeds, **group.metrics}.items():
        qualified = f"{ASR_JSON}:{key}"
        first[qualified if qualified in first else key] = value
    return first


def asr_rows(
    runs: pd.DataFrame, groups: Sequence[SeedGroup], baseline: pd.Series
) -> tuple[pd.DataFrame, pd.Series]:
    """The runs for the ASR tables, a group of seeds as one row in its first run's
    place; and the row that stands for the baseline."""
    merged: dict[str, pd.Series] = {}
    for group in groups:
        if len(group.seeds) > 1:
            merged |= dict.fromkeys(group.same, merged_row(group))
    rows: dict[object, pd.Series] = {}
    for index, run in runs.iterrows():
        row = merged.get(run["name"], run)
        if all(row is not r for r in rows.values()):
            rows[index] = row
    frame = pd.DataFrame(list(rows.values()), index=list(rows), dtype=object)
    base = merged.get(baseline["name"])
    label = next((i for i, r in rows.items() if r is base), baseline.name)
    return frame, frame.loc[label]


def pair(groups: Sequence[SeedGroup], a: str, b: str) -> tuple | None:
    """Groups of configurations a and b that differ in their params alone (the same
    code and data), the pair with the most seeds."""
    keys = set(CONFIGURATIONS[a]) | set(CONFIGURATIONS[b])

    def ran(config: str) -> list[SeedGroup]:  # the configurations exclude each other
        wanted = CONFIGURATIONS[config].items()
        return [
            g
            for g in groups
            if all(get(g.runs.iloc[0], k, PARAMS) == v for k, v in wanted)
        ]

    pairs = [
        (ga, gb)
        for ga in ran(a)
        for gb in ran(b)
        if all(
            any(f": param {k} " in d for k in keys)
            for d in differences(ga.fingerprint, gb.fingerprint)
        )
    ]
    return max(pairs, key=lambda p: min(len(p[0].seeds), len(p[1].seeds)), default=None)


def _good(metric: str, delta: float) -> bool:
    return (delta > 0) == (describe(ASR_JSON, metric).better == "higher")


@dataclass(frozen=True)
class Verdict:
    """One metric of b against a: b − a, its 95 % interval, the fewer seeds."""

    metric: str
    delta: float
    low: float
    high: float
    seeds: int

    @property
    def inside(self) -> bool:
        return self.low <= 0 <= self.high

    @property
    def call(self) -> bool | None:
        """b better (True) or worse (False) beyond noise, else None."""
        if self.inside or self.seeds < 2:
            return None
        return _good(self.metric, self.low if self.low > 0 else self.high)

    def text(self, b: str) -> str:
        if self.inside:
            return "within seed noise" if self.seeds > 1 else "within noise (one seed)"
        if self.call is None:
            return "noise unknown: one seed"
        return f"{b} {'better' if self.call else 'worse'}"


def summary(
    calls: Sequence[Verdict],
    ref: Mapping[str, tuple[float, float]],
    yes: str = "better",
) -> str:
    """The answer: yes when the challenger is `yes` (better or worse) beyond noise
    on some metric and the opposite on none (the table gives each metric's call);
    then where these runs agree with the homework report's direction."""
    hit = [SHORT[v.metric] for v in calls if v.call is (yes == "better")]
    miss = [SHORT[v.metric] for v in calls if v.call is (yes != "better")]
    if hit or miss:
        lead = "Mixed" if hit and miss else "Yes" if hit else "No"
        if not (hit and miss) and len(hit or miss) < len(calls):
            lead += f", on {', '.join(hit or miss)}"
    elif any(v.call is None and not v.inside for v in calls):
        lead = "Cannot tell from one seed"
    else:
        noise = "seed noise" if calls[0].seeds > 1 else "noise (one seed)"
        lead = f"Not beyond {noise}"
    said = {m: _good(m, y - x) for m, (x, y) in ref.items()}
    if not said:
        return f"**{lead}.**"
    calls_said = {v.metric: v.call for v in calls if v.metric in said}
    found = {
        "agree on": [m for m, c in calls_said.items() if c is said[m]],
        "disagree on": [m for m, c in calls_said.items() if c is (not said[m])],
        "cannot tell within noise on": [m for m, c in calls_said.items() if c is None],
    }
    values = ", ".join(f"{SHORT[m]} {x:.4f} → {y:.4f}" for m, (x, y) in ref.items())
    verdict = "; ".join(
        f"{how} {', '.join(map(SHORT.get, ms))}" for how, ms in found.items() if ms
    )
    return (
        f"**{lead}.** Against the homework report (full data: {values}), these "
        f"runs {verdict}."
    )


def answer(pairing: tuple, a: str, b: str, yes: str = "better") -> list[str]:
    """One comparison's table and its answer (Markdown lines)."""
    ga, gb = pairing
    label_a, label_b = LABELS[a], LABELS[b]
    seeds = min(len(ga.seeds), len(gb.seeds))
    calls = [Verdict(m, *difference(ga.scores, gb.scores, m), seeds) for m in SHORT]
    # where the homework report compared the two (the decoders), its a and b
    refs = REFERENCES[REFERENCES["group"] == ("decoder",)].set_index("decoder")
    both = {a, b} == set(refs.index)
    ref = {m: (refs.at[a, m], refs.at[b, m]) for m in SHORT if both and m in refs}
    rows = []
    for v in calls:
        side = [ga.scores.per_seed(v.metric), gb.scores.per_seed(v.metric)]
        scale = scale_for([*side[0], *side[1], v.delta])
        means = [spread_text(*mean_std(values), scale=scale) for values in side]
        delta = spread_text(v.delta, ci=(v.low, v.high), scale=scale, sign=True)
        found = "–"
        if v.metric in ref:
            x, y = ref[v.metric]
            found = f"{label_b} {'better' if _good(v.metric, y - x) else 'worse'}"
        rows.append([SHORT[v.metric], *means, delta, v.text(label_b), found])
    header = ["metric", label_a, label_b, f"{label_b} − {label_a} [95 %]"]
    header += ["on these runs", "homework report (full data)"]
    table = pd.DataFrame(rows, columns=header)
    return [
        f"`{cell(merged_row(ga)['name'])}` against `{cell(merged_row(gb)['name'])}`: "
        f"{len(ga.clip_ids):,} test clips, the same code and data.",
        "",
        markdown_table(table if ref else table.iloc[:, :-1]),
        "",
        summary(calls, ref, yes),
        "",
    ]


def answer_section(groups: Sequence[SeedGroup]) -> list[str]:
    """The homework's questions, each answered where both sides were run."""
    lines = [
        "## The homework's answer",
        "",
        "Each difference with its 95 % interval over the test clips and both "
        "sides' seeds; a difference is called better or worse only when that "
        "interval excludes zero and both sides have several seeds "
        "(`make homework` trains each configuration with `SEEDS=3` seeds).",
        "",
    ]
    for a, b, question, yes in QUESTIONS:
        found = pair(groups, a, b)
        wait = f"*No {LABELS[a]} and {LABELS[b]} runs of the same code and data yet: "
        wait += "run `make homework`.*"
        lines += [f"### {question}", ""]
        lines += answer(found, a, b, yes) if found else [wait, ""]
    return lines


def render_experiments(
    runs: pd.DataFrame, problem: str | None, groups: Sequence[SeedGroup] = ()
) -> str:
    """reports/experiments.md (runs that did not succeed named so, no numbers)."""
    done = runs["state"] == "success"
    runs = runs.assign(
        name=runs["name"].where(done, runs["name"] + " (" + runs["state"] + ")")
    )
    commits = runs.index[(runs["typ"] == "baseline") & (runs["rev"] != "workspace")]
    baseline = runs.loc[commits[0] if len(commits) else runs.index[0]]
    lines = [
        "# Experiments",
        "",
        "Every run `dvc exp show` lists (the workspace, the commit it is based on "
        f"and its experiments), grouped by the params it changed against "
        f"`{cell(baseline['name'])}` (the first row of every table); a run that "
        "changed nothing of a study is that row. ASR runs that differ in "
        "`asr.seed` alone (the same code, data and other params) are one row, "
        "their seeds listed. A run that failed, or has not finished, is named so "
        "and shows no numbers. Rows in *italics* are the homework report's "
        "results on the **full data**.",
        "",
        PLUS_MINUS,
        "",
    ]
    if problem:
        lines += [f"*No experiments listed: {cell(problem)}*", ""]
    for study in STUDIES:
        lines += [f"## {study.title}", ""]
        if not runs.apply(lambda r, s=study: has_results(r, s), axis=1).any():
            lines += ["*No run has these results yet.*", ""]
        shown = asr_rows(runs, groups, baseline) if study is ASR else (runs, baseline)
        lines += grouped_tables(study, *shown)
    lines += answer_section(groups)
    return "\n".join(lines).rstrip() + "\n"


def build_experiments_report(
    root: str | Path = ".",
    out: str | Path = "reports/experiments.md",
    rev: str | None = None,
) -> Path:
    """Write the experiments of HEAD or `rev` (or the workspace alone)."""
    root = Path(root)
    try:
        runs, problem = exp_frame(root, rev), None
    except Hw2Error as exc:
        runs, problem = workspace_frame(root), str(exc)
    page = root / out
    write_text(page, render_experiments(runs, problem, seed_groups(runs, root)))
    return page

"""reports/experiments.md: every run `dvc exp show` lists, grouped by what it
varied, ASR seeds as one row, and the homework's answer stated with intervals.

ASR runs that differ in `asr.seed` alone (hw2.pipeline.seed_record) are one row:
the mean ± std over seeds and the interval over test clips and seeds. The answer
compares configurations that differ in their defining params alone (the same
code and data): a difference is a win only when its 95 % interval, over the test
clips (one draw for both sides: they transcribed the same clips) and each side's
seeds, excludes zero; otherwise it is within seed noise.

Kept out of the report stage: what it reads depends on git and the experiment
refs, which a stage cannot declare.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hw2.asr.seeds import difference
from hw2.core.io import write_text
from hw2.core.stats import mean_std
from hw2.pipeline.catalog import ASR_JSON, Scale, describe, scale_for
from hw2.pipeline.report import PLUS_MINUS, grouped_tables
from hw2.pipeline.runs import (
    ASR,
    REFERENCES,
    STUDIES,
    Run,
    cell,
    experiment_runs,
    has_results,
    markdown_table,
    workspace_run,
)
from hw2.pipeline.seed_record import SEED_PARAM, SeedGroup, differences, seed_groups

# The homework's ASR configurations: the params that make each.
CONFIGURATIONS = {
    "transformer": {"decoder": "transformer", "asr.attention": "softmax"},
    "lstm": {"decoder": "lstm", "asr.attention": "softmax"},
    "mclaurin": {"decoder": "transformer", "asr.attention": "mclaurin"},
}
LABELS = {"transformer": "Transformer", "lstm": "LSTM", "mclaurin": "McLaurin"}
# (the side compared against, the challenger, the homework's question, and what
# of the challenger's makes the answer yes: being better, or worse)
QUESTIONS = (
    (
        "lstm",
        "transformer",
        "Does the Transformer decoder beat the LSTM decoder?",
        "better",
    ),
    ("transformer", "mclaurin", "Does McLaurin self-attention cost accuracy?", "worse"),
)
ANSWER_METRICS = ("cer", "wer", "jaccard", "cosine", "damerau_levenshtein")
SHORT = {
    "cer": "CER",
    "wer": "WER",
    "jaccard": "Jaccard",
    "cosine": "cosine",
    "damerau_levenshtein": "D-L",
}
_SEED_SUFFIX = re.compile(r"[-_]seed[-_]?\d+$")


def configuration(group: SeedGroup) -> str | None:
    """The homework configuration a group ran, if any."""
    params = group.runs[0].params
    for name, wanted in CONFIGURATIONS.items():
        if all(params.get(k) == v for k, v in wanted.items()):
            return name
    return None


def merged_run(group: SeedGroup) -> Run:
    """A group of seeds as one run: the first run's params with the seeds listed
    as `asr.seed`, its ASR metrics over the seeds."""
    first = group.runs[0]
    named = [_SEED_SUFFIX.sub("", r.name) for r in group.runs]
    stems = [n for n, r in zip(named, group.runs, strict=True) if n != r.name]
    seeds = ", ".join(str(s) for s in group.seeds)
    params = {**first.params, SEED_PARAM: seeds}
    metrics = {**first.metrics, ASR_JSON: group.metrics}
    return Run(f"{(stems or [first.name])[0]} (seeds {seeds})", params, metrics)


def asr_rows(
    runs: Sequence[Run], baseline: Run, groups: Sequence[SeedGroup]
) -> tuple[list[Run], Run]:
    """The runs for the ASR tables, each group of several seeds as one run in the
    place of its first; and the row that stands for the baseline."""
    merged: dict[int, Run] = {}
    for group in groups:
        if len(group.seeds) > 1:
            row = merged_run(group)
            merged.update((id(run), row) for run in group.same)
    rows: list[Run] = []
    for run in runs:
        row = merged.get(id(run), run)
        if all(row is not r for r in rows):
            rows.append(row)
    return rows, merged.get(id(baseline), baseline)


def pair(
    groups: Sequence[SeedGroup], a: str, b: str
) -> tuple[SeedGroup, SeedGroup] | None:
    """Groups of configurations a and b whose runs differ in those
    configurations' params alone (the same code and data), the pair with the
    most seeds; None when there is none."""
    keys = set(CONFIGURATIONS[a]) | set(CONFIGURATIONS[b])

    def comparable(ga: SeedGroup, gb: SeedGroup) -> bool:
        diff = differences(ga.fingerprint, gb.fingerprint)
        return all(any(f": param {k} " in d for k in keys) for d in diff)

    pairs = [
        (ga, gb)
        for ga in groups
        if configuration(ga) == a
        for gb in groups
        if configuration(gb) == b and comparable(ga, gb)
    ]
    if not pairs:
        return None
    return max(pairs, key=lambda p: min(len(p[0].seeds), len(p[1].seeds)))


def _good(metric: str, delta: float) -> bool:
    """Whether a change of this sign is an improvement of the metric."""
    return (delta > 0) == (describe(ASR_JSON, metric).better == "higher")


@dataclass(frozen=True)
class Verdict:
    """One metric of b against a: b − a, the 95 % interval of that difference,
    and the fewer seeds of the two sides."""

    metric: str
    delta: float
    low: float
    high: float
    seeds: int

    @property
    def call(self) -> bool | None:
        """True (b better) / False (b worse) when the interval excludes zero and
        both sides have several seeds; None otherwise."""
        if self.low <= 0 <= self.high or self.seeds < 2:
            return None
        return _good(self.metric, self.low if self.low > 0 else self.high)

    def text(self, b: str) -> str:
        """The call in words."""
        if self.low <= 0 <= self.high:
            return "within seed noise" if self.seeds > 1 else "within noise (one seed)"
        if self.call is None:
            return "noise unknown: one seed"
        return f"{b} {'better' if self.call else 'worse'}"


def verdicts(a: SeedGroup, b: SeedGroup) -> list[Verdict]:
    """Each answer metric of b against a, with the interval of the difference."""
    seeds = min(len(a.seeds), len(b.seeds))
    return [
        Verdict(m, *difference(a.scores, b.scores, m), seeds) for m in ANSWER_METRICS
    ]


def reference(a: str, b: str) -> dict[str, tuple[float, float]]:
    """(a, b) of each metric in the homework report (full data), where it
    compared the two configurations: the decoders only."""
    refs = {r.params.get("decoder"): r for r in REFERENCES[ASR.title][("decoder",)]}
    if {a, b} != set(refs):
        return {}
    ra, rb = refs[a].metrics[ASR_JSON], refs[b].metrics[ASR_JSON]
    return {m: (ra[m], rb[m]) for m in ANSWER_METRICS if m in ra and m in rb}


def _mean_std(group: SeedGroup, metric: str, scale: Scale) -> str:
    mean, std = mean_std(group.scores.per_seed(metric))
    return scale.text(mean) + ("" if std is None else f" ± {scale.text(std)}")


def _names(calls: Sequence[Verdict]) -> str:
    return ", ".join(SHORT[v.metric] for v in calls)


def summary(
    calls: Sequence[Verdict],
    b: str,
    ref: Mapping[str, tuple[float, float]],
    yes: str = "better",
) -> str:
    """The answer in sentences, from the calls (and the homework report's):
    yes when the challenger `b` is `yes` (better or worse) on some metric
    beyond noise and the opposite on none."""
    better = [v for v in calls if v.call is True]
    worse = [v for v in calls if v.call is False]
    inside = [v for v in calls if v.low <= 0 <= v.high]
    unknown = [v for v in calls if v.call is None and v not in inside]
    hit, miss = (better, worse) if yes == "better" else (worse, better)
    noise = "seed noise" if all(v.seeds > 1 for v in calls) else "noise (one seed)"
    if hit or miss:
        lead = "Mixed" if hit and miss else "Yes" if hit else "No"
        if not (hit and miss) and len(hit or miss) < len(calls):  # some only
            lead += f", on {_names(hit or miss)}"
    else:
        lead = "Cannot tell from one seed" if unknown else f"Not beyond {noise}"
    parts = [f"{b} better on {_names(better)}"] if better else []
    parts += [f"{b} worse on {_names(worse)}"] if worse else []
    parts += [f"within {noise} on {_names(inside)}"] if inside else []
    parts += [f"noise unknown (one seed) on {_names(unknown)}"] if unknown else []
    text = f"**{lead}.** On these runs: {'; '.join(parts)}."
    shared = [v for v in calls if v.metric in ref]
    if not shared:
        return text
    said = {
        v.metric: _good(v.metric, ref[v.metric][1] - ref[v.metric][0]) for v in shared
    }
    values = ", ".join(f"{SHORT[m]} {ref[m][0]:.4f} → {ref[m][1]:.4f}" for m in said)
    if all(said.values()) or not any(said.values()):
        found = f"{b} {'better' if all(said.values()) else 'worse'} on each"
    else:
        found = "; ".join(
            f"{b} {'better' if good else 'worse'} on {SHORT[m]}"
            for m, good in said.items()
        )
    agree = [v for v in shared if v.call is not None and v.call == said[v.metric]]
    oppose = [v for v in shared if v.call is not None and v.call != said[v.metric]]
    unsure = [v for v in shared if v.call is None]
    verdict = [f"agree on {_names(agree)}"] if agree else []
    verdict += [f"disagree on {_names(oppose)}"] if oppose else []
    verdict += [f"cannot tell within noise on {_names(unsure)}"] if unsure else []
    return (
        f"{text} The homework report (full data: {values}) found {found}; "
        f"these runs {', '.join(verdict)}."
    )


def answer(
    pairing: tuple[SeedGroup, SeedGroup], a: str, b: str, yes: str = "better"
) -> list[str]:
    """One comparison's table and its answer (Markdown lines)."""
    ga, gb = pairing
    label_a, label_b = LABELS[a], LABELS[b]
    calls = verdicts(ga, gb)
    ref = reference(a, b)
    rows = []
    for v in calls:
        values = [*ga.scores.per_seed(v.metric), *gb.scores.per_seed(v.metric)]
        scale = scale_for([*values, v.delta])
        found = "–"
        if v.metric in ref:
            old, new = ref[v.metric]
            found = f"{label_b} {'better' if _good(v.metric, new - old) else 'worse'}"
        diff = f"{scale.delta(0, v.delta)} [{scale.text(v.low)}, {scale.text(v.high)}]"
        rows.append(
            [
                SHORT[v.metric],
                _mean_std(ga, v.metric, scale),
                _mean_std(gb, v.metric, scale),
                diff,
                v.text(label_b),
                found,
            ]
        )
    header = ["metric", label_a, label_b, f"{label_b} − {label_a} [95 %]"]
    header += ["on these runs", "homework report (full data)"]
    if not ref:  # the homework report did not compare these two
        header, rows = header[:-1], [row[:-1] for row in rows]
    return [
        f"`{cell(merged_run(ga).name)}` against `{cell(merged_run(gb).name)}`: "
        f"{len(ga.clip_ids):,} test clips, the same code and data.",
        "",
        markdown_table(header, rows),
        "",
        summary(calls, label_b, ref, yes),
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
        lines += [f"### {question}", ""]
        found = pair(groups, a, b)
        if found is None:
            lines += [
                f"*No {LABELS[a]} and {LABELS[b]} runs of the same code and data "
                "yet: run `make homework`.*",
                "",
            ]
        else:
            lines += answer(found, a, b, yes)
    return lines


def _baseline(runs: Sequence[Run]) -> Run:
    """The commit the experiments were run from (HEAD), else the first run."""
    return next((r for r in runs if r.kind == "commit"), runs[0])


def render_experiments(
    runs: Sequence[Run], problem: str | None, groups: Sequence[SeedGroup] = ()
) -> str:
    """reports/experiments.md: every run's results grouped by what it varied, ASR
    seeds (`groups`, seed_record.seed_groups) as one row, and the answer."""
    baseline = _baseline(runs)
    lines = [
        "# Experiments",
        "",
        "Every run `dvc exp show` lists (the workspace, the commit it is based on "
        f"and its experiments), grouped by the params it changed against "
        f"`{cell(baseline.name)}` (the first row of every table); a run that "
        "changed nothing of a study is that row. ASR runs that differ in "
        "`asr.seed` alone (the same code, data and other params) are one row, "
        "their seeds listed. Rows in *italics* are the homework report's results "
        "on the **full data**.",
        "",
        PLUS_MINUS,
        "",
    ]
    if problem:
        lines += [f"*No experiments listed: {cell(problem)}.*", ""]
    for study in STUDIES:
        lines += [f"## {study.title}", ""]
        if not any(has_results(run, study.columns) for run in runs):
            lines += ["*No run has these results yet.*", ""]
        rows, base = (runs, baseline)
        if study is ASR:
            rows, base = asr_rows(runs, baseline, groups)
        lines += grouped_tables(study, rows, base)
    lines += answer_section(groups)
    return "\n".join(lines).rstrip() + "\n"


def build_experiments_report(
    root: str | Path = ".",
    out: str | Path = "reports/experiments.md",
    rev: str | None = None,
) -> Path:
    """Write the experiments of HEAD or `rev` (or the workspace alone)."""
    root = Path(root)
    runs, problem = experiment_runs(root, rev)
    if not runs:
        runs = [workspace_run(root)]
    page = root / out
    write_text(page, render_experiments(runs, problem, seed_groups(runs, root)))
    return page

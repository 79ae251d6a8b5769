"""The homework's grid of experiments, run with DVC's experiment queue.

Phase 1 queues the ASR with each decoder and with McLaurin attention, each with
several seeds (`asr.seed` = params.yaml's and the next ones), then the CNN at
three learning rates: the long runs first, so that the workers stay busy to the
end. Phase 2 queues the CNN without max-pooling at the learning rate that won
phase 1 (by validation accuracy). Then the ASR's seeds are aggregated into
metrics/asr_seeds.json (hw2.pipeline.seed_record) and reports/experiments.md is
written (hw2.pipeline.experiments).

Queued experiments run in temporary copies of the repository made from a git
stash of the workspace: tracked files carry their uncommitted changes
(params.yaml included), untracked files are missing. The untracked files the
pipeline depends on are handed over explicitly (`--copy-paths`); nothing else
is, so a stray file cannot break a run.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hw2.core.errors import Hw2Error
from hw2.core.io import write_json, write_text
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline import dvc
from hw2.pipeline.catalog import ASR_SEEDS
from hw2.pipeline.experiments import CONFIGURATIONS, render_experiments
from hw2.pipeline.runs import (
    ASR_METRICS,
    CNN_JSON,
    CNN_METRICS,
    Column,
    Run,
    experiment_runs,
    runs_frame,
)
from hw2.pipeline.seed_record import SeedGroup, build_record, seed_groups

LEARNING_RATES = (0.1, 0.01, 0.001)
SEEDS = 3  # ASR seeds per configuration
EXPERIMENTS_REPORT = "reports/experiments.md"
# Columns of the final table (`dvc exp show --keep`): names, the params varied,
# the metrics the studies compare.
TABLE_COLUMNS = (
    "Experiment",
    "lr",
    "decoder",
    "cnn.maxpool",
    "asr.attention",
    "asr.cross_attention",
    "asr.seed",
    "data.images.source",
    "data.speech.source",
    *CNN_METRICS,
    *ASR_METRICS,
)


@dataclass(frozen=True)
class Experiment:
    """One queued run: a name and the params it sets."""

    name: str
    params: dict[str, str]


def asr_name(config: str, seed: int) -> str:
    """The queued name of one ASR configuration's run with one seed."""
    return f"asr-{config}-seed-{seed}"


def phase_one(
    source: str, mclaurin: bool = True, seeds: Sequence[int] = (42, 43, 44)
) -> list[Experiment]:
    """Each ASR configuration with each seed, then the CNN at each learning rate
    with max-pooling.

    The ASR runs are the long ones: queued first, they keep both workers busy,
    and the CNN runs fill in at the end. Seed by seed, so that an interrupted
    grid has every configuration at the first seeds. The McLaurin ASR can be
    left out to save its runs.
    """
    speech = {"data.speech.source": source}
    configs = [c for c in CONFIGURATIONS if mclaurin or c != "mclaurin"]
    grid = [
        Experiment(
            asr_name(config, seed),
            {**speech, **CONFIGURATIONS[config], "asr.seed": str(seed)},
        )
        for seed in seeds
        for config in configs
    ]
    images = {"data.images.source": source}
    grid += [
        Experiment(f"cnn-lr-{lr}", {**images, "lr": str(lr), "cnn.maxpool": "true"})
        for lr in LEARNING_RATES
    ]
    return grid


def phase_two(source: str, best_lr: float) -> list[Experiment]:
    """The variant without max-pooling at the best learning rate."""
    params = {"data.images.source": source, "lr": str(best_lr), "cnn.maxpool": "false"}
    return [Experiment(f"cnn-nopool-lr-{best_lr}", params)]


def best_learning_rate(runs: Sequence[Run]) -> float:
    """The phase-1 CNN learning rate with the highest validation accuracy."""
    names = {f"cnn-lr-{lr}" for lr in LEARNING_RATES}
    columns = (Column("lr", "params", "lr"), Column("val_acc", CNN_JSON, "val_acc"))
    frame = runs_frame(runs, columns).dropna()
    frame = frame[frame["run"].isin(names)]
    if frame.empty:
        raise Hw2Error("no CNN learning-rate experiment finished: see `dvc queue logs`")
    return float(frame.loc[frame["val_acc"].astype(float).idxmax(), "lr"])


def first_seed(root: Path) -> int:
    """params.yaml's `asr.seed` (the default run's), where the seeds start."""
    try:
        seed = (parse_yaml((root / "params.yaml").read_text()) or {})["asr"]["seed"]
    except (OSError, YAMLError, KeyError, TypeError) as exc:
        raise Hw2Error(f"params.yaml: cannot read asr.seed ({exc})") from exc
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise Hw2Error(f"params.yaml: asr.seed must be an integer, got {seed!r}")
    return seed


def record_groups(
    groups: Sequence[SeedGroup], grid: Sequence[Experiment]
) -> dict[str, SeedGroup]:
    """Per ASR configuration, the group of seeds that holds most of the grid's
    runs of it (one group when they ran the same code and data, as they do)."""
    chosen: dict[str, SeedGroup] = {}
    for config in CONFIGURATIONS:
        wanted = CONFIGURATIONS[config].items()
        names = {
            e.name
            for e in grid
            if "asr.seed" in e.params and all(e.params.get(k) == v for k, v in wanted)
        }
        counts = [(sum(r.name in names for r in g.same), g) for g in groups]
        count, group = max(counts, key=lambda c: c[0], default=(0, None))
        if count and group is not None:
            chosen[config] = group
    return chosen


def finish(root: Path, grid: Sequence[Experiment]) -> None:
    """The ASR's seed record and reports/experiments.md from the finished runs."""
    runs, problem = experiment_runs(root)
    groups = seed_groups(runs, root)
    chosen = record_groups(groups, grid)
    if chosen:
        write_json(root / ASR_SEEDS, build_record(chosen))
        for config, group in chosen.items():
            seeds = ", ".join(map(str, group.seeds))
            print(f"{ASR_SEEDS}: {config}, seeds {seeds}")
    else:
        print(f"no ASR experiment finished: {ASR_SEEDS} not written")
    if runs:
        write_text(root / EXPERIMENTS_REPORT, render_experiments(runs, problem, groups))
        print(f"wrote {EXPERIMENTS_REPORT}")


def queue_command(exp: Experiment, copy_paths: Sequence[str]) -> list[str]:
    """`dvc exp run --queue` for one experiment."""
    cmd = ["dvc", "exp", "run", "--queue", "--name", exp.name]
    for key, value in exp.params.items():
        cmd += ["--set-param", f"{key}={value}"]
    for path in copy_paths:
        cmd += ["--copy-paths", path]
    return cmd


def untracked_files(root: Path) -> list[str]:
    """Files git does not track and does not ignore: a queued run would not see them.

    A folder with nothing tracked in it is one entry ("new/"): DVC copies a file
    only into a folder that exists in the run's copy, a folder as a whole.
    """
    cmd = ["git", "ls-files", "--others", "--exclude-standard", "-z"]
    cmd += ["--directory", "--no-empty-directory"]
    return [p for p in dvc.run(cmd, root).split("\0") if p]


def pipeline_inputs(root: Path) -> tuple[set[Path], set[Path]]:
    """Absolute paths of the stages' file dependencies and of their outputs.

    Params files are left out of both: the queue carries params.yaml with the
    run's `-S` values set, and a copy made when the run starts would undo them.
    """
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    deps: set[Path] = set()
    outs: set[Path] = set()
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            deps |= {
                Path(d.fs_path)
                for d in stage.deps
                if not isinstance(d, ParamsDependency)
            }
            outs |= {Path(o.fs_path) for o in stage.outs}
    return deps, outs


def select_copy_paths(
    untracked: Sequence[str], root: Path, deps: set[Path], outs: set[Path]
) -> list[str]:
    """The untracked entries a stage reads: inside a dependency, or holding one.

    Outputs are left to DVC (it reproduces or checks them out), and so is
    everything unrelated: a stray dvc_plots/ or comment.md is not copied.
    """
    root = root.resolve()
    chosen = []
    for entry in untracked:
        path = (root / entry).resolve()
        related = any(
            dep == path or dep in path.parents or path in dep.parents for dep in deps
        )
        generated = any(out == path or out in path.parents for out in outs)
        if related and not generated:
            chosen.append(entry.rstrip("/"))
    return chosen


def copy_paths(root: Path) -> list[str]:
    """What the queued runs need handed over: untracked pipeline inputs only."""
    deps, outs = pipeline_inputs(root)
    return select_copy_paths(untracked_files(root), root, deps, outs)


_COPY_ERROR = re.compile(r"Unable to copy '([^']+)'")


def copy_failure(log: str, root: Path) -> str | None:
    """A one-line error naming the file a queued run could not copy, if one failed."""
    match = _COPY_ERROR.search(log)
    if not match:
        return None
    path = Path(match.group(1))
    root = root.resolve()
    shown = path.relative_to(root) if root in path.parents else path
    return (
        f"a queued run could not copy {shown} into its copy of the repository: "
        "commit it (or `git add` it), or remove it"
    )


def run_all(root: Path, jobs: int, poll: float = 0.5) -> str:
    """`dvc exp run --run-all`, its output shown as it comes and returned."""
    # `--run-all --jobs N` is `dvc queue start -j N` that also waits and follows
    # the logs, so the next phase can read the results. Its output goes to a file,
    # not a pipe: DVC leaves a forked helper behind that holds the output open, and
    # now and then its queue worker outlives the queue, so a pipe would never
    # reach its end. The command itself returns once the queue has run dry.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            ["dvc", "exp", "run", "--run-all", "--jobs", str(jobs)],
            cwd=root,
            env=worker_env(jobs),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        shown = 0
        while True:
            done = proc.poll() is not None
            log.seek(shown)
            sys.stdout.write(log.read())
            sys.stdout.flush()
            shown = log.tell()
            if done:
                break
            time.sleep(poll)
        log.seek(0)
        output = log.read()
    # every task has ended: ask a lingering worker to go too (nothing to stop is fine)
    subprocess.run(
        ["dvc", "queue", "stop"], cwd=root, env=dvc.dvc_env(), capture_output=True
    )
    return output


def table_command() -> list[str]:
    """`dvc exp show` as Markdown, restricted to the columns that matter."""
    # A name used by params and a metrics file both is shown by DVC with its
    # file: keep the params.yaml one.
    names = "|".join(c.replace(".", r"\.") for c in TABLE_COLUMNS)
    keep = rf"^(params\.yaml:)?({names})$"
    return ["dvc", "exp", "show", "--md", "--no-pager", "--drop", ".*", "--keep", keep]


def _run_queue(root: Path, grid: list[Experiment], jobs: int) -> None:
    existing = set(dvc.run(["dvc", "exp", "list", "--name-only"], root).split())
    stale = [e.name for e in grid if e.name in existing]
    if stale:  # a rerun of the grid replaces the earlier results
        dvc.run(["dvc", "exp", "remove", *stale], root)
    handed = copy_paths(root)
    if handed:
        print(f"handing the untracked pipeline inputs to the queued runs: {handed}")
    for exp in grid:
        dvc.run(queue_command(exp, handed), root)
        print(f"queued {exp.name}: {exp.params}")
    problem = copy_failure(run_all(root, jobs), root)
    if problem:
        raise Hw2Error(problem)


def worker_env(jobs: int, cpus: int | None = None) -> dict[str, str]:
    """dvc's environment with torch in each of `jobs` workers on its share of CPUs.

    torch starts one thread per core in every process, so N parallel runs
    would each spread over all cores and wait on one another's threads
    (OpenMP spins while it waits). OMP_NUM_THREADS = cores // N, at least 1;
    one the user set is kept. Stages that pin their own thread count
    (hw2.core.device.cpu_threads) still do.
    """
    env = dvc.dvc_env()
    if not os.environ.get("OMP_NUM_THREADS"):
        cpus = cpus or _usable_cpus()
        env["OMP_NUM_THREADS"] = str(max(1, cpus // jobs))
    return env


def run_homework(
    root: str | Path = ".",
    jobs: int = 2,
    source: str = "sample",
    mclaurin: bool = True,
    seeds: int = SEEDS,
) -> str:
    """Run both phases, write the seed record and the experiments report, and
    return the comparison table (Markdown)."""
    root = Path(root)
    if source not in ("sample", "full"):
        raise Hw2Error(f"source must be sample or full, got {source!r}")
    if jobs < 1:
        raise Hw2Error(f"jobs must be >= 1, got {jobs}")
    if seeds < 1:
        raise Hw2Error(f"seeds must be >= 1, got {seeds}")
    start = first_seed(root)
    grid = phase_one(source, mclaurin, range(start, start + seeds))
    # Cached baseline outputs let every queued run skip the stages it shares.
    dvc.run(["dvc", "repro"], root, capture=False)
    _run_queue(root, grid, jobs)
    runs, problem = experiment_runs(root)
    if problem:
        raise Hw2Error(problem)
    try:
        best = best_learning_rate(runs)
    except Hw2Error:
        finish(root, grid)  # what the ASR runs measured is kept
        raise
    print(f"best learning rate by validation accuracy: {best}")
    _run_queue(root, phase_two(source, best), jobs)
    finish(root, grid)
    return dvc.run(table_command(), root)


def _usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):  # Linux; not macOS or Windows
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1

"""`make homework`: the homework's grid through DVC's experiment queue, as typed:

    dvc exp run --queue -n asr-lstm-seed-42 -S decoder=lstm ... -S threads=1
    dvc exp run --run-all -j 2     # 2 workers; returns when every run is done

Phase 1: each ASR configuration with several seeds, then the CNN at three
learning rates (long runs first, so the workers stay busy); phase 2: the CNN
without max-pooling at phase 1's best learning rate. Then the seed record
(metrics/asr_seeds.json) and reports/experiments.md. Finished runs are kept, so
a rerun queues only the rest; each ASR run's `threads` is its share of the cores
(a CNN run keeps the commit's, so that it leaves the ASR's outputs cached).
"""

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hw2.core.device import usable_cpus
from hw2.core.errors import Hw2Error
from hw2.core.io import write_json, write_text
from hw2.core.params import parse_yaml, read_yaml
from hw2.pipeline.catalog import ASR_SEEDS, CNN_JSON
from hw2.pipeline.dvc import run
from hw2.pipeline.experiments import CONFIGURATIONS, render_experiments
from hw2.pipeline.exps import table
from hw2.pipeline.runs import PARAMS, exp_frame, get, param_text
from hw2.pipeline.seed_record import SEED_PARAM, build_record, seed_groups

LEARNING_RATES = (0.1, 0.01, 0.001)
SEEDS = 3  # ASR seeds per configuration
EXPERIMENTS_REPORT = "reports/experiments.md"


@dataclass(frozen=True)
class Experiment:
    name: str
    params: dict[str, str]


def phase_one(
    source: str, mclaurin: bool = True, seeds: Sequence[int] = (42, 43, 44)
) -> list[Experiment]:
    """Each ASR configuration seed by seed (an interrupted grid has every one at
    the first seeds), then the CNN at each learning rate with max-pooling."""
    asr = [
        Experiment(
            f"asr-{config}-seed-{seed}",
            {"data.speech.source": source, **wanted, SEED_PARAM: str(seed)},
        )
        for seed in seeds
        for config, wanted in CONFIGURATIONS.items()
        if mclaurin or config != "mclaurin"
    ]
    images = {"data.images.source": source, "cnn.maxpool": "true"}
    return asr + [
        Experiment(f"cnn-lr-{lr}", {**images, "lr": str(lr)}) for lr in LEARNING_RATES
    ]


def phase_two(source: str, best_lr: float) -> list[Experiment]:
    """The variant without max-pooling at the best learning rate."""
    params = {"data.images.source": source, "lr": str(best_lr), "cnn.maxpool": "false"}
    return [Experiment(f"cnn-nopool-lr-{best_lr}", params)]


def best_learning_rate(runs: pd.DataFrame) -> float:
    """The phase-1 CNN learning rate with the highest validation accuracy."""
    cnn = runs[runs["name"].isin([f"cnn-lr-{lr}" for lr in LEARNING_RATES])]
    acc = cnn.apply(lambda r: get(r, "val_acc", CNN_JSON), axis=1).dropna()
    if acc.empty:
        raise Hw2Error("no CNN learning-rate experiment finished: see `dvc queue logs`")
    return float(get(cnn.loc[acc.astype(float).idxmax()], "lr", PARAMS))


def dvc(root: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """A dvc command, shown as typed; `dvc repro` and `dvc exp run --run-all`
    (every run's log, followed) show their output as it goes."""
    print("$ dvc " + " ".join(args), flush=True)
    live = args[0] == "repro" or "--run-all" in args
    run(["dvc", *args], root, env=env, capture=not live)


def done(runs: pd.DataFrame, exp: Experiment) -> bool:
    """Whether `runs` hold this experiment finished, with its params."""
    found = runs[(runs["name"] == exp.name) & (runs["state"] == "success")]
    return any(
        all(
            param_text(get(run, k, PARAMS)) == param_text(parse_yaml(v))
            for k, v in exp.params.items()
        )
        for _, run in found.iterrows()
    )


def wait_for_workers(root: Path, poll: float = 5.0) -> None:
    """Until the queue's workers have ended: each ends itself a minute after the
    queue empties. Not `dvc queue stop`: its shutdown, sent to a worker that has
    already ended, waits in DVC's broker for the next worker of that name, which
    then ends after one run and leaves the rest of its queue waiting forever."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        while repo.experiments.celery_queue.worker_status():
            time.sleep(poll)


def queued_elsewhere(root: Path) -> list[str]:
    """The runs DVC's queue holds, queued or running (another commit's grid, a
    user's `dvc exp run --queue`): `--run-all` runs every one."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        queue = repo.experiments.celery_queue
        entries = [*queue.iter_active(), *queue.iter_queued()]
    return [e.name or e.stash_rev[:7] for e in entries]


@contextmanager
def workspace_kept(root: Path) -> Iterator[None]:
    """Write back the workspace's uncommitted changes to git-tracked files that
    the block turned back into HEAD's. Each `dvc exp run --queue` stashes the
    workspace and pops it back; seen in CI after two workspace `dvc exp run`s:
    five changed metrics files, each as long as HEAD's copy, ended as HEAD's."""
    diff = ["git", "diff", "HEAD", "--name-only", "-z"]  # changed tracked files
    names = set(run(diff, root, check=False).split("\0")) - {""}
    before = {n: (root / n).read_bytes() for n in names if (root / n).is_file()}
    try:
        yield
    finally:
        now = set(run(diff, root, check=False).split("\0"))
        if lost := sorted(set(before) - now):
            for name in lost:  # a file edited meanwhile is not HEAD's: kept
                (root / name).write_bytes(before[name])
            print(f"restored {', '.join(lost)}: DVC's queue had reset them to HEAD")


def run_queue(root: Path, grid: Sequence[Experiment], jobs: int) -> pd.DataFrame:
    """Queue what of `grid` has not finished and run the queue on `jobs` workers."""
    runs = exp_frame(root)
    todo = [e for e in grid if not done(runs, e)]
    print(f"{len(grid) - len(todo)} of {len(grid)} runs finished before: kept")
    stale = [e.name for e in todo if e.name in set(runs["name"])]
    if stale:  # failed, interrupted or other params: run again
        dvc(root, "exp", "remove", *stale)
    if not todo:
        return runs
    if waiting := queued_elsewhere(root):  # `--run-all` would run them too
        raise Hw2Error(
            f"DVC's queue already holds {len(waiting)} run(s) that this grid did not "
            f"queue ({', '.join(waiting[:4])}{', …' * (len(waiting) > 4)}): see `dvc "
            "queue status`; `dvc queue remove --queued` removes them"
        )
    share = str(max(1, usable_cpus() // jobs))  # the cores each run gets
    # `threads` = that share in an ASR run, where params.yaml has the key: a CNN
    # run does not read it, and a changed one would only retrain the ASR
    threads = "threads" in (read_yaml(root / PARAMS) or {})
    with workspace_kept(root):
        for exp in todo:
            more = {"threads": share} if threads and SEED_PARAM in exp.params else {}
            sets = [f"-S{k}={v}" for k, v in (exp.params | more).items()]
            dvc(root, "exp", "run", "--queue", "-n", exp.name, *sets)
        try:
            # torch in each worker on its share of the cores, unless the user chose
            omp = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", share)}
            dvc(root, "exp", "run", "--run-all", "-j", str(jobs), env=omp)
        except KeyboardInterrupt:  # DVC's own Ctrl-C leaves the runs going on
            dvc(root, "queue", "stop", "--kill")
            raise Hw2Error(
                "interrupted: the queue's workers stopped; `make homework` again "
                "runs the rest (finished runs are kept)"
            ) from None
        wait_for_workers(root)
        # finished runs are experiments now: their queue entries would add DVC's
        # State and Executor columns to `dvc exp show` (failed runs keep theirs)
        dvc(root, "queue", "remove", "--success")
    runs = exp_frame(root)
    failed = runs[runs["state"] == "failed"]["name"].tolist()
    if failed:
        print(f"failed: {', '.join(failed)} (`dvc queue logs <name>`)")
    return runs


def finish(root: Path, grid: Sequence[Experiment], runs: pd.DataFrame) -> None:
    """The ASR's seed record and reports/experiments.md from the finished runs:
    per configuration, the group of seeds holding most of its grid runs."""
    groups = seed_groups(runs, root)
    chosen = {}
    for config in CONFIGURATIONS:
        names = {e.name for e in grid if e.name.startswith(f"asr-{config}-seed-")}
        best = max(groups, key=lambda g: len(names & set(g.same)), default=None)
        if best is not None and names & set(best.same):
            chosen[config] = best
    if chosen:
        write_json(root / ASR_SEEDS, build_record(chosen))
        for config, group in chosen.items():
            print(f"{ASR_SEEDS}: {config}, seeds {', '.join(map(str, group.seeds))}")
    else:
        print(f"no ASR experiment finished: {ASR_SEEDS} not written")
    write_text(root / EXPERIMENTS_REPORT, render_experiments(runs, None, groups))
    print(f"wrote {EXPERIMENTS_REPORT}")


def run_homework(
    root: str | Path = ".",
    jobs: int = 2,
    source: str = "sample",
    mclaurin: bool = True,
    seeds: int = SEEDS,
) -> str:
    """Both phases, the seed record and the report; returns `make exps`' table."""
    root = Path(root)
    if source not in ("sample", "full"):
        raise Hw2Error(f"source must be sample or full, got {source!r}")
    if jobs < 1 or seeds < 1:
        raise Hw2Error(f"jobs and seeds must be >= 1, got {jobs} and {seeds}")
    # read, not load_params: DVC's queue rewrites params.yaml while this runs
    first = (parse_yaml((root / PARAMS).read_text()) or {}).get("asr", {})
    if not isinstance(first.get("seed"), int) or isinstance(first["seed"], bool):
        raise Hw2Error("params.yaml: asr.seed must be an integer")
    grid = phase_one(source, mclaurin, range(first["seed"], first["seed"] + seeds))
    dvc(root, "repro")  # cached outputs let every queued run skip what it shares
    runs = run_queue(root, grid, jobs)
    try:
        best = best_learning_rate(runs)
    except Hw2Error:
        finish(root, grid, runs)  # what the ASR runs measured is kept
        raise
    print(f"best learning rate by validation accuracy: {best}")
    grid += phase_two(source, best)
    runs = run_queue(root, grid, jobs)
    finish(root, grid, runs)
    return table(runs, 120)

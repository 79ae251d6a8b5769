"""ASR runs of several seeds as commits of a small git repository, as DVC
experiments leave them: each commit holds dvc.lock, metrics/asr.json and the
transcripts (imported as a plain module by the compare, report and homework
tests: pytest puts tests/ on sys.path)."""

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from helpers import sh

from hw2.asr.metrics import asr_metrics
from hw2.asr.seeds import transcript_tokens
from hw2.pipeline.catalog import ASR_JSON, ASR_TRANSCRIPTS, CNN_JSON

SENTENCES = [
    "the cat sat on the mat.",
    "a dog ran down the long road.",
    "she said it was late, so we left.",
    "nine men walked to the old mill.",
    "the rain fell all night long.",
    "he read the letter twice.",
    "birds sang in the tall trees.",
    "the court met at ten o'clock.",
    "they found the key under a stone.",
    "the ship sailed at dawn.",
    "a small boy held the red kite.",
    "we waited by the river for hours.",
]
CLIPS = [(f"LJ001-{i:04d}", s) for i, s in enumerate(SENTENCES)]
# every how many letters each configuration gets one wrong
ERRORS = {"transformer": 12, "lstm": 4, "mclaurin": 11}
CONFIG_PARAMS = {
    "transformer": {"decoder": "transformer", "asr.attention": "softmax"},
    "lstm": {"decoder": "lstm", "asr.attention": "softmax"},
    "mclaurin": {"decoder": "transformer", "asr.attention": "mclaurin"},
}


def lock(config: str = "transformer", seed: int = 42, code: str = "c0") -> dict:
    """A dvc.lock with the ASR's two stages (and the CNN's, which the
    fingerprint leaves out); the model's md5 changes with the seed."""
    params = {
        "data.speech.source": "sample",
        "asr.seed": seed,
        "asr.lr": 0.001,
        **CONFIG_PARAMS[config],
    }
    model = {"path": "data/models/asr.pt", "hash": "md5", "md5": f"m-{config}-{seed}"}
    features = {"path": "data/features", "hash": "md5", "md5": "feat.dir"}
    return {
        "schema": "2.0",
        "stages": {
            "train_asr": {
                "cmd": "python stages/train_asr.py",
                "deps": [features, {"path": "src/hw2/asr/model.py", "md5": code}],
                "params": {"params.yaml": params},
                "outs": [model],
            },
            "evaluate_asr": {
                "cmd": "python stages/evaluate_asr.py",
                "deps": [
                    features,
                    model,
                    {"path": "src/hw2/asr/evaluate.py", "md5": "e"},
                ],
                "params": {"params.yaml": {"asr.eval_batch_size": 16}},
                "outs": [{"path": "metrics/asr.json", "md5": f"j{seed}"}],
            },
            "train_cnn": {
                "cmd": "python stages/train_cnn.py",
                "deps": [{"path": "src/hw2/oct/train.py", "md5": f"cnn{seed}"}],
                "params": {"params.yaml": {"lr": 0.01}},
                "outs": [],
            },
        },
    }


def hypothesis(text: str, every: int, offset: int) -> str:
    """The text with every `every`-th letter (from `offset`) turned into an x."""
    out, n = [], offset
    for ch in text:
        if ch.isalpha():
            n += 1
            if n % every == 0:
                ch = "x" if ch != "x" else "y"
        out.append(ch)
    return "".join(out)


def transcripts(config: str, seed: int) -> list[tuple[str, str, str]]:
    """(id, reference, hypothesis) per clip for one configuration and seed."""
    return [(i, ref, hypothesis(ref, ERRORS[config], seed)) for i, ref in CLIPS]


def git(repo: Path, *args: str) -> str:
    return sh(["git", *args], repo).stdout.strip()


def init(repo: Path) -> Path:
    """An empty git repository with params.yaml (asr.seed 42)."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q")
    (repo / "params.yaml").write_text(yaml.safe_dump({"asr": {"seed": 42}}))
    return repo


def write_run(repo: Path, config: str, seed: int, code: str = "c0") -> dict[str, Any]:
    """A run's files in the working tree; its ASR metrics (one seed, no
    intervals: none of these tests reads them)."""
    rows = transcripts(config, seed)
    tsv = "id\treference\thypothesis\n" + "".join("\t".join(r) + "\n" for r in rows)
    (repo / "metrics").mkdir(exist_ok=True)
    (repo / ASR_TRANSCRIPTS).write_text(tsv)
    refs = [transcript_tokens(r) for _, r, _ in rows]
    hyps = [transcript_tokens(h) for _, _, h in rows]
    metrics = {"loss": 1.0 + ERRORS[config] / 100 + seed / 1000}
    metrics |= asr_metrics(refs, hyps)
    (repo / ASR_JSON).write_text(json.dumps(metrics))
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock(config, seed, code)))
    return metrics


def commit_run(
    repo: Path,
    name: str,
    config: str,
    seed: int,
    kind: str = "branch_commit",
    code: str = "c0",
) -> dict[str, Any]:
    """Commit one run's files; the row of the runs frame DVC would list for it."""
    metrics = write_run(repo, config, seed, code)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", name)
    params = {
        "data.speech.source": "sample",
        "asr.cross_attention": "softmax",
        "asr.seed": seed,
        "lr": 0.01,
        **CONFIG_PARAMS[config],
    }
    cnn = {"val_acc": 0.8, "test_acc": 0.7}
    row = {"name": name, "rev": git(repo, "rev-parse", "HEAD"), "typ": kind}
    row |= {"state": "success", **params}
    row |= {f"{ASR_JSON}:{k}": v for k, v in metrics.items()}
    return row | {f"{CNN_JSON}:{k}": v for k, v in cnn.items()}


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as the runs frame."""
    return pd.DataFrame(rows, dtype=object)


def homework_runs(
    repo: Path, configs=("transformer", "lstm", "mclaurin"), seeds=(42, 43, 44)
) -> pd.DataFrame:
    """The baseline commit (transformer, seed 42) and the grid's ASR experiments,
    as `dvc exp show` lists them: the commit first."""
    runs = [commit_run(repo, "main", "transformer", seeds[0], kind="baseline")]
    runs += [
        commit_run(repo, f"asr-{c}-seed-{s}", c, s) for s in seeds for c in configs
    ]
    return frame(runs)

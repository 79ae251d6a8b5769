"""Runs as one pandas DataFrame, a row per run, from DVC's own experiment table.

Columns `name`, `rev`, `typ`, `state` (success, failed, queued, running), then
metrics and params under DVC's headers (a key alone, `file:key` where two files
share it). A run that did not succeed carries no metrics (DVC shows its
baseline's). Every table is a pandas operation on such a frame.
"""

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hw2.core.errors import DataError, Hw2Error
from hw2.core.params import YAMLError, parse_yaml
from hw2.pipeline import catalog as cat
from hw2.pipeline.dvc import git_file
from hw2.pipeline.markdown import cell

META = ["name", "rev", "typ", "state"]
PARAMS = "params.yaml"
REFERENCE = "homework report (full data)"


def flatten(tree: Any) -> dict[str, Any]:
    """A mapping's leaves by dotted key (lists kept whole), as DVC names them."""
    if not isinstance(tree, dict) or not tree:
        return {}
    return pd.json_normalize(tree).to_dict("records")[0]  # each column its type


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file, or a DataError naming it."""
    try:
        tree = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(tree, dict):
        raise DataError(f"{path}: expected a JSON object")
    return tree


def _value(text: Any) -> Any:
    """A cell of DVC's table as the value it printed (42, 0.01, True, a name)."""
    if text is None:
        return None
    text = str(text)  # DVC's cells are rich text
    try:
        return json.loads({"True": "true", "False": "false"}.get(text, text))
    except ValueError:
        return text


def runs_frame(rows: list[dict] | pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """DVC's table rows (`dvc.api.exp_show()`'s) as the runs frame."""
    frame = pd.DataFrame(rows).rename(columns={"Experiment": "name", "State": "state"})
    frame["name"] = frame["name"].where(frame["name"].fillna("") != "", frame["rev"])
    frame["state"] = frame["state"].fillna("success").str.lower()
    data = [c for c in frame if c not in META]
    frame[data] = frame[data].map(_value).astype(object)
    frame.loc[frame["state"] != "success", [m for m in metrics if m in frame]] = None
    frame.attrs["metrics"] = metrics
    return frame


def exp_frame(root: str | Path, rev: str | None = None) -> pd.DataFrame:
    """HEAD's runs (or `rev`'s): the workspace, the commit and its experiments."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.repo.experiments.show import tabulate
    from scmrepo.exceptions import SCMError

    try:
        with Repo.open(str(root)) as repo:
            exps = repo.experiments.show(revs=[rev] if rev else None)
            table, headers = tabulate(exps, fill_value=None)
    # scmrepo's errors are not DVC's: e.g. a queued run's copy whose git repo is
    # still being set up (it has no HEAD yet) while DVC lists the active runs
    except (DvcException, SCMError, OSError) as exc:
        raise Hw2Error(f"`dvc exp show` failed: {exc}") from exc
    rows = pd.DataFrame(table.as_dict())
    if rows.empty:
        raise Hw2Error("`dvc exp show` lists no run: no commit yet?")
    keep = ["Experiment", "rev", "typ", "State", *headers["metrics"]]
    frame = runs_frame(rows[keep + list(headers["params"])], list(headers["metrics"]))
    # the studies' metrics files whole, from each run's commit: DVC's table
    # leaves out lists (intervals, per-seed values) and names a key by its file
    # only where two files share it
    done = frame["state"] == "success"
    for path in (cat.CNN_JSON, cat.ASR_JSON):
        trees = frame.loc[done, "rev"].map(lambda rev, p=path: git_file(root, rev, p))
        flat = trees.dropna().map(lambda raw: flatten(json.loads(raw)))
        files = pd.DataFrame(flat.tolist(), index=flat.index, dtype=object)
        frame = frame.drop(columns=[k for k in files if k in frame])
        frame = frame.join(files.add_prefix(f"{path}:"))
    frame.attrs["metrics"] = list(headers["metrics"])
    return frame


def workspace_frame(root: Path) -> pd.DataFrame:
    """The workspace as one run: params.yaml and the metrics files present."""
    try:
        params = parse_yaml((root / PARAMS).read_text()) or {}
    except (OSError, YAMLError) as exc:
        raise DataError(f"{root / PARAMS}: cannot read ({exc})") from exc
    row = {"name": "workspace", "rev": "workspace", "typ": "workspace"}
    row |= {"state": "success", **flatten(params)}
    for name in (cat.CNN_JSON, cat.CNN_DETAILS, cat.ASR_JSON):
        if (root / name).is_file():
            flat = flatten(read_json(root / name))
            row |= {f"{name}:{k}": v for k, v in flat.items()}
    return pd.DataFrame([row], dtype=object)


def get(run: Any, key: str, *paths: str) -> Any:
    """A run's value of `key` (under DVC's header: alone or `file:key`)."""
    for name in [*(f"{p}:{key}" for p in paths), key]:
        value = run.get(name)
        value = value.item() if isinstance(value, np.generic) else value
        if value is not None and not (isinstance(value, float) and pd.isna(value)):
            return value
    return None


@dataclass(frozen=True)
class Study:
    """One study's runs: the params that change its results and its columns."""

    title: str
    prefixes: tuple[str, ...]
    names: dict[str, str]  # short headers of its params
    columns: tuple[tuple[str, str, str, str], ...]  # header, file, key, kind

    def owns(self, key: str) -> bool:
        return any(key == p or key.startswith(p + ".") for p in self.prefixes)


def _spread(path: str, key: str, short: str) -> list[tuple[str, str, str, str]]:
    return [(short, path, key, "value"), ("± std", path, key, "std")]


CNN = Study(
    "CNN on OCTMNIST",
    ("lr", "cnn", "data.images"),
    {"lr": "lr", "cnn.maxpool": "max-pool", "data.images.source": "data"},
    (
        ("seeds", cat.CNN_JSON, "test_acc", "seeds"),
        *_spread(cat.CNN_JSON, "val_acc", "val acc"),
        *_spread(cat.CNN_JSON, "test_acc", "test acc"),
        ("95 % interval", cat.CNN_JSON, "test_acc", "ci"),
    ),
)
ASR = Study(
    "Speech recognition on LJ Speech",
    ("decoder", "asr", "data.speech"),
    {
        "decoder": "decoder",
        "asr.attention": "attention",
        "asr.cross_attention": "cross-attention",
        "asr.seed": "seed",
        "data.speech.source": "data",
    },
    (
        ("seeds", cat.ASR_JSON, "cer", "seeds"),
        *_spread(cat.ASR_JSON, "cer", "CER"),
        ("95 % interval", cat.ASR_JSON, "cer", "ci"),
        ("WER", cat.ASR_JSON, "wer", "value"),
        ("Jaccard", cat.ASR_JSON, "jaccard", "value"),
        ("cosine", cat.ASR_JSON, "cosine", "value"),
        ("D-L", cat.ASR_JSON, "damerau_levenshtein", "value"),
        ("loss", cat.ASR_JSON, "loss", "value"),
    ),
)
STUDIES = (CNN, ASR)


# The homework report's full-data results (docs/design.md), by `group`: the params
# each comparison varied; its ASR used softmax attention throughout.
_REFERENCES = """\
group,lr,cnn.maxpool,val_acc,test_acc,decoder,loss,jaccard,cosine,damerau_levenshtein
lr,0.1,True,0.7322,0.7013,,,,,
lr,0.01,True,0.8719,0.8280,,,,,
lr,0.001,True,0.7649,0.7505,,,,,
cnn.maxpool,0.01,True,0.8719,0.8280,,,,,
cnn.maxpool,0.01,False,0.8550,0.7958,,,,,
decoder,,,,,lstm,1.1828,0.7149,0.8324,0.5087
decoder,,,,,transformer,1.1604,0.7657,0.8661,0.6344
"""
REFERENCES = pd.read_csv(io.StringIO(_REFERENCES)).astype(object)
REFERENCES = REFERENCES.assign(
    group=REFERENCES["group"].map(lambda key: (key,)),
    name=REFERENCE,
    typ="reference",
    **{"data.images.source": "full", "data.speech.source": "full"},
    **{"asr.attention": "softmax", "asr.cross_attention": "softmax"},
)
EMPTY = pd.DataFrame(columns=["name", "typ"], dtype=object)


def value(run: Any, path: str, key: str, kind: str = "value") -> Any:
    """One cell's value: a metric, its std, its interval or its seed count."""
    if kind == "std":
        return cat.seed_std(lambda k: get(run, k, path), key)
    found = get(run, key + (cat.CI_SUFFIX if kind == "ci" else ""), path)
    if kind != "seeds" or found is None:
        return found
    per_seed = get(run, key + cat.SEEDS_SUFFIX, path)
    if isinstance(per_seed, list) and per_seed:
        return len(per_seed)
    seeds = get(run, cat.SEEDS_KEY, path)
    reference = run.get("typ") == "reference"
    return seeds if isinstance(seeds, int) else None if reference else 1


def has_results(run: Any, study: Study) -> bool:
    """Whether the run has a value in any of the study's metric columns."""
    return any(value(run, p, k) is not None for _, p, k, kind in study.columns)


def param_text(value: Any) -> str:
    """A param as written: booleans lower-case, '–' for missing."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else cell(value)


def metric_text(run: Any, path: str, key: str, kind: str = "value") -> str:
    """A metric's cell as people read it (std and interval at the metric's scale,
    so that they line up)."""
    found = value(run, path, key, kind)
    if found is None or kind == "seeds":
        return "–" if found is None else f"{found:,}"
    base = value(run, path, key)
    unit = cat.describe(path, key).unit
    ref = [float(base)] if isinstance(base, int | float) else []
    if kind == "ci" and isinstance(found, list) and len(found) == 2:
        scale = cat.scale_for(ref or [float(v) for v in found], unit)
        return f"[{scale.text(found[0])}, {scale.text(found[1])}]"
    if isinstance(found, int | float) and not isinstance(found, bool):
        return cat.scale_for(ref or [float(found)], unit).text(float(found))
    return cell(found)


def markdown_table(rows: Any, columns: list[str] | None = None) -> str:
    """Cell texts (a frame, or rows and their `columns`) as a GitHub Markdown
    table, each cell as written (tabulate would reformat numbers)."""
    frame = pd.DataFrame(rows, columns=columns, dtype=object).fillna("–")
    return frame.to_markdown(index=False, tablefmt="github", disable_numparse=True)


def study_table(study: Study, runs: pd.DataFrame, params: list[str]) -> str:
    """Runs as a Markdown table: name, `params`, the study's columns (references
    in italics)."""
    table = pd.DataFrame(
        [
            [cell(run["name"]), *(param_text(get(run, k, PARAMS)) for k in params)]
            + [metric_text(run, p, k, kind) for _, p, k, kind in study.columns]
            for _, run in runs.iterrows()
        ],
        columns=["run", *(study.names.get(k, k) for k in params)]
        + [c[0] for c in study.columns],
        dtype=object,
    )
    refs = runs["typ"].eq("reference").to_numpy()
    table[refs] = table[refs].map(lambda t: t if t == "–" else f"*{t}*")
    return markdown_table(table)


def varied(runs: pd.DataFrame, baseline: pd.Series, study: Study) -> pd.Series:
    """Per run, the study's params in which it differs from `baseline`, sorted."""
    keys = sorted(k for k in runs if k not in META and study.owns(k.split(":")[-1]))
    base = {k: param_text(baseline.get(k)) for k in keys}
    texts = runs[keys].map(param_text).to_dict("records")
    groups = [tuple(k for k in keys if run[k] != base[k]) for run in texts]
    return pd.Series(groups, runs.index, dtype=object)


def grouped_tables(study: Study, runs: pd.DataFrame, baseline: pd.Series) -> list[str]:
    """One table per set of params varied: baseline, runs, then references."""
    shown = runs.apply(
        lambda r: has_results(r, study) or r["state"] != "success", axis=1
    )
    runs = runs[shown.astype(bool)] if len(runs) else runs
    runs = runs.drop(index=baseline.name, errors="ignore")
    runs = runs.assign(group=varied(runs, baseline, study))
    runs = runs[runs["group"].map(bool)] if len(runs) else runs
    refs = REFERENCES[REFERENCES["group"].map(lambda g: study.owns(g[0]))]
    groups = list(dict.fromkeys([*runs.get("group", []), *refs["group"]])) or [()]
    data = next(k for k in study.names if k.startswith("data."))
    first = pd.DataFrame([baseline]) if has_results(baseline, study) else None
    lines = []
    for keys in groups:
        rows = [first, runs[runs["group"] == keys], refs[refs["group"] == keys]]
        rows = pd.concat([r.astype(object) for r in rows if r is not None] + [EMPTY])
        names = ", ".join(f"`{k.split(':')[-1]}`" for k in keys)
        lines += [f"### Varying {names}" if keys else "### Baseline", ""]
        params = [data, *(k for k in keys if k != data)]
        lines += [study_table(study, rows.astype(object), params), ""]
    return lines

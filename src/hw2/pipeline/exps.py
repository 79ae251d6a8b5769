"""`make exps`: a commit's runs as one table that fits a terminal (`dvc exp show`
draws some 200 columns): name and state, the headline metrics, lr, decoder and
the params where runs differ. A long name is cut, never a number.
"""

import pandas as pd

from hw2.pipeline.catalog import ASR_JSON, ATTENTION_JSON, CNN_JSON
from hw2.pipeline.runs import ASR, CNN, META, metric_text, param_text

METRICS = {"test acc": (CNN_JSON, "test_acc"), "CER": (ASR_JSON, "cer")}
METRICS |= {"WER": (ASR_JSON, "wer"), "speedup": (ATTENTION_JSON, "speedup")}
ALWAYS = ["lr", "decoder"]
MIN_NAME = 12  # the name column is cut to fit, down to this width


def table(runs: pd.DataFrame, width: int) -> str:
    """The runs as aligned text at most `width` columns wide (names cut to fit)."""
    failed = runs["name"] + " (" + runs["state"] + ")"
    shown = runs["name"].where(runs["state"] == "success", failed).to_frame("run")
    for header, (path, key) in METRICS.items():
        shown[header] = [metric_text(run, path, key) for _, run in runs.iterrows()]
    if shown["speedup"].replace("–", None).nunique() < 2:
        shown = shown.drop(columns="speedup")
    metrics = runs.attrs.get("metrics", [])
    params = runs[[c for c in runs if c not in META + metrics and ":" not in c]]
    params = params.map(param_text)
    names = CNN.names | ASR.names
    varied = sorted(k for k in params if k not in ALWAYS and params[k].nunique() > 1)
    for key in ALWAYS + varied:
        shown[names.get(key, key.rsplit(".", 1)[-1])] = params[key]
    widths = shown.map(len).max().clip(lower=shown.columns.str.len().to_numpy())
    room = width - 2 * len(widths) - widths.iloc[1:].sum()
    cut = widths["run"] = max(MIN_NAME, min(widths["run"], room))
    long = shown["run"].str.len() > cut
    shown.loc[long, "run"] = shown.loc[long, "run"].str[: cut - 1] + "…"
    text = pd.concat([pd.DataFrame([shown.columns], columns=shown.columns), shown])
    for h, w in widths.items():
        text[h] = text[h].str.rjust(w) if h in METRICS else text[h].str.ljust(w)
    lines = ("  " + text.agg("  ".join, axis=1)).str.rstrip().tolist()
    lines.insert(1, "  " + "─" * (widths.sum() + 2 * (len(widths) - 1)))
    return "\n".join(lines)

"""`make exps`: a commit's runs as one table that fits a terminal (`dvc exp show`
draws some 200 columns): name and state, the headline metrics, lr, decoder and
the params where runs differ. A long name is cut, never a number.
"""

import shutil

import pandas as pd

from hw2.pipeline.catalog import ASR_JSON, ATTENTION_JSON, CNN_JSON
from hw2.pipeline.runs import ASR, CNN, META, exp_frame, metric_text
from hw2.pipeline.runs import param_text as text

METRICS = {"test acc": (CNN_JSON, "test_acc"), "CER": (ASR_JSON, "cer")}
METRICS |= {"WER": (ASR_JSON, "wer"), "speedup": (ATTENTION_JSON, "speedup")}
ALWAYS = ("lr", "decoder")
MIN_NAME = 12  # the name column is cut to fit, down to this width


def table(runs: pd.DataFrame, width: int) -> str:
    """The runs as aligned text at most `width` columns wide (names cut to fit)."""
    shown = pd.DataFrame({"run": runs["name"].where(runs["state"] == "success")})
    shown["run"] = shown["run"].fillna(runs["name"] + " (" + runs["state"] + ")")
    for header, (path, key) in METRICS.items():
        shown[header] = runs.apply(
            lambda r, p=path, k=key: metric_text(r, p, k), axis=1
        )
    if shown["speedup"].replace("–", None).nunique() < 2:
        shown = shown.drop(columns="speedup")
    metrics = runs.attrs.get("metrics", [])
    params = [c for c in runs if c not in [*META, *metrics] and ":" not in c]
    params = runs[params].map(text)
    names = {**CNN.names, **ASR.names}
    for key in [*ALWAYS, *(k for k in sorted(params) if k not in ALWAYS)]:
        if key in ALWAYS or params[key].nunique() > 1:
            shown[names.get(key, key.rsplit(".", 1)[-1])] = params[key]
    widths = pd.concat(
        [shown.map(len), pd.DataFrame([shown.columns.map(len)], columns=shown.columns)]
    ).max()
    room = width - 2 * len(widths) - widths.iloc[1:].sum()
    cut = max(MIN_NAME, min(widths.iloc[0], room))
    shown["run"] = shown["run"].map(
        lambda n: n if len(n) <= cut else n[: cut - 1] + "…"
    )
    widths.iloc[0] = cut
    right = set(METRICS)

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if h in right else c.ljust(w)
            for c, w, h in zip(cells, widths, shown.columns, strict=True)
        ]
        return ("  " + "  ".join(parts)).rstrip()

    rule = "  " + "─" * (widths.sum() + 2 * (len(widths) - 1))
    body = [line(list(row)) for row in shown.to_numpy()]
    return "\n".join([line(list(shown.columns)), rule, *body])


def show(root: str, rev: str | None = None, width: int | None = None) -> str:
    """HEAD's experiments (or those of `rev`) as the table, for the terminal."""
    runs = exp_frame(root, rev)
    return table(runs, width or shutil.get_terminal_size((120, 24)).columns)

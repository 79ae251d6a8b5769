"""What goes into a metrics file: the numbers people compare, and nothing else.

DVC tabulates every number of every declared metrics file (`dvc metrics show`,
`dvc exp show`, `dvc metrics diff`). Class counts, settings, parameter counts and
copies of params there pushed the accuracies and error rates out of a terminal's
width, so each stage writes two files: the metrics (declared `metrics:`) and the
rest beside them as a details file (declared a plain output).

A metric keeps its noise companions, `X_ci95` and `X_per_seed`: lists, in the
file for the comparison tools and left out of DVC's tables. Its spread over seeds
is the std of `X_per_seed`, not a number of its own: DVC would show that as one
more column, and in `dvc exp show` at 120 columns the CNN's two spreads, ahead
of the ASR's CER, pushed CER out.
"""

from collections.abc import Iterable, Mapping
from typing import Any

NOISE_SUFFIXES = ("_ci95", "_per_seed")


def split_metrics(
    values: Mapping[str, Any], keys: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, details): `keys` with their noise companions, in `keys` order;
    everything else in its own order."""
    keys = list(keys)
    missing = [k for k in keys if k not in values]
    if missing:  # a renamed key would silently drop a metric
        raise KeyError(f"no metric {missing[0]!r} among {sorted(values)}")
    wanted = [k + s for k in keys for s in ("", *NOISE_SUFFIXES)]
    metrics = {k: values[k] for k in wanted if k in values}
    details = {k: v for k, v in values.items() if k not in metrics}
    return metrics, details

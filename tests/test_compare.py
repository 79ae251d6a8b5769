"""The noise rule of metric changes and the reading of dvc.yaml's plots."""

import json

import pytest

from hw2.core.errors import DataError
from hw2.pipeline.compare import (
    Change,
    Headline,
    Value,
    compare,
    metric_paths,
    metric_values,
    rounded,
    split_headlines,
)
from hw2.pipeline.plots import (
    PlotSpec,
    Source,
    load_plot,
    parse_rows,
    plot_specs,
    top_level_specs,
)


def change(old, new):
    return Change("m.json", "x", old, new)


@pytest.mark.parametrize(
    ("old", "new", "verdict"),
    [
        (Value(0.70, 0.67, 0.73), Value(0.72, 0.69, 0.75), "within noise"),
        (Value(0.70, 0.67, 0.73), Value(0.80, 0.77, 0.83), "beyond noise"),
        # the intervals overlap, yet |Δ| = 0.04 > √(0.025² + 0.025²) = 0.035
        (Value(0.70, 0.675, 0.725), Value(0.74, 0.715, 0.765), "beyond noise"),
        (Value(0.70, 0.675, 0.725), Value(0.73, 0.705, 0.755), "within noise"),
        # the same widths, but the side facing the other value counts
        (Value(0.50, 0.49, 0.60), Value(0.53, 0.52, 0.54), "within noise"),
        (Value(0.50, 0.40, 0.51), Value(0.53, 0.52, 0.54), "beyond noise"),
        # one side without an interval borrows the other's half-width
        (Value(0.70), Value(0.72, 0.69, 0.75), "within noise"),
        (Value(0.70), Value(0.80, 0.77, 0.83), "beyond noise"),
        (Value(0.70), Value(0.80), "no interval"),
        (None, Value(0.80), "new"),
        (Value(0.80), None, "removed"),
        (Value(0.9476169284), Value(0.9476170001), "unchanged"),
    ],
)
def test_verdict(old, new, verdict):
    assert change(old, new).verdict == verdict


def test_precision_rule_keeps_whole_numbers_whole():
    assert rounded(224892.0) == "224892" and rounded(0.94761692) == "0.9476"
    assert change(Value(224892.0), Value(224893.0)).changed
    assert not change(Value(0.12344), Value(0.12341)).changed
    assert change(Value(0.1234), Value(0.1235)).delta == pytest.approx(1e-4)


def test_metric_values_fold_interval_and_seed_keys():
    tree = {
        "test_acc": 0.8,
        "test_acc_ci95": [0.77, 0.83],
        "test_acc_std": 0.02,  # the interval wins over the seed spread
        "val_acc": 0.8,
        "val_acc_std": 0.05,
        "val_acc_per_seed": [0.75, 0.8, 0.85, 0.8],
        "per_class": {"CNV": 0.9, "CNV_ci95": [0.85, 0.95]},
        "lone_std": 0.1,  # no `lone`: a metric of its own
        "decoder": "lstm",
        "ok": True,
        "lengths": [1, 2],
    }
    values = metric_values(tree)
    assert set(values) == {"test_acc", "val_acc", "per_class.CNV", "lone_std"}
    assert values["test_acc"] == Value(0.8, 0.77, 0.83)
    low, high = values["val_acc"].low, values["val_acc"].high
    assert (high - low) / 2 == pytest.approx(1.96 * 0.05 / 2)  # 4 seeds
    assert values["per_class.CNV"] == Value(0.9, 0.85, 0.95)


def test_compare_and_headlines_in_configured_order():
    base = {"a.json": {"x": Value(1.0), "y": Value(2.0)}}
    head = {"a.json": {"y": Value(3.0), "z": Value(4.0)}, "b.json": {"w": Value(5.0)}}
    changes = compare(base, head)
    assert [(c.path, c.key, c.verdict) for c in changes] == [
        ("a.json", "y", "no interval"),
        ("a.json", "z", "new"),
        ("a.json", "x", "removed"),
        ("b.json", "w", "new"),
    ]
    heads, rest = split_headlines(
        changes,
        [
            Headline("W", "b.json", "w"),
            Headline("gone", "c.json", "q"),
            Headline("Y", "a.json", "y"),
        ],
    )
    assert [label for label, _ in heads] == ["W", "Y"]
    assert [c.key for c in rest] == ["z", "x"]


def test_metric_paths_from_stages_and_top_level():
    dvc_yaml = {
        "metrics": ["top.json"],
        "stages": {
            "a": {"metrics": ["a.json", {"b.json": {"cache": False}}]},
            "c": {"cmd": "true"},
        },
    }
    assert metric_paths(dvc_yaml) == ["top.json", "a.json", "b.json"]


def test_plot_specs_each_file_once_under_the_users_name():
    dvc_yaml = {
        "plots": [
            {
                "Loss": {
                    "x": "step",
                    "y": {"live/train/loss.tsv": "loss", "live/val/loss.tsv": ["loss"]},
                }
            },
            {"scores.csv": {"x": {"scores.csv": "epoch"}, "y": ["a", "b"]}},
            "curve.json",
        ],
        "stages": {
            "train": {
                "plots": [
                    {"live": {"x": "step", "cache": False}},
                    {"conf.csv": {"template": "confusion", "x": "t", "y": "p"}},
                    "picture.png",
                ]
            }
        },
    }
    folders = {"live": ["live/train/loss.tsv", "live/val/loss.tsv", "live/lr.tsv"]}
    specs = plot_specs(dvc_yaml, lambda p: folders.get(p, [p]))
    assert [(s.name, s.whole) for s in specs] == [
        ("Loss", False),
        ("scores.csv", False),
        ("curve.json", False),
        ("live/lr.tsv", False),
        ("conf.csv", True),
        ("picture.png", True),
    ]
    assert specs[0].sources == (
        Source("live/train/loss.tsv", "step", ("loss",)),
        Source("live/val/loss.tsv", "step", ("loss",)),
    )
    assert specs[1].sources == (Source("scores.csv", "epoch", ("a", "b")),)
    assert specs[2].sources == (Source("curve.json", None, None),)
    assert top_level_specs("not a list") == []


class Files:
    """RevisionFiles over a dict of path -> text."""

    def __init__(self, files, rev="base"):
        self.rev, self._files = rev, files

    def files(self, path):
        return [p for p in self._files if p == path or p.startswith(path + "/")]

    def read_bytes(self, path):
        text = self._files.get(path)
        return None if text is None else text.encode()


def tsv(name, values):
    return f"step\t{name}\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values))


def test_files_sharing_a_column_stay_separate_series():
    spec = PlotSpec(
        "ASR loss",
        (
            Source("m/train/loss.tsv", "step", ("loss",)),
            Source("m/val/loss.tsv", "step", ("loss",)),
        ),
    )
    base = Files(
        {"m/train/loss.tsv": tsv("loss", [3, 2]), "m/val/loss.tsv": tsv("loss", [4, 3])}
    )
    head = Files(
        {
            "m/train/loss.tsv": tsv("loss", [3, 1]),
            "m/val/loss.tsv": tsv("loss", [4, 3]),
        },
        rev=None,
    )
    plot = load_plot(spec, base, head)
    assert plot.status == "changed"
    assert [(c.label, c.base, c.head, c.changed) for c in plot.curves] == [
        ("train/loss", [(0, 3), (1, 2)], [(0, 3), (1, 1)], True),
        ("val/loss", [(0, 4), (1, 3)], [(0, 4), (1, 3)], False),
    ]


def test_value_columns_rows_json_and_categorical_x():
    rows = json.dumps(
        {
            "rows": [
                {"epoch": 1, "acc": 0.5, "timestamp": 9},
                {"epoch": 0, "acc": 0.4, "timestamp": 8},
            ]
        }
    )
    spec = PlotSpec("acc.json", (Source("acc.json", "epoch", None),))
    plot = load_plot(spec, Files({}), Files({"acc.json": rows}, rev=None))
    assert plot.status == "new"
    assert [(c.label, c.head) for c in plot.curves] == [("acc", [(0, 0.4), (1, 0.5)])]
    text = "kind,count\na,1\nb,2\n"
    spec = PlotSpec("c.csv", (Source("c.csv", "kind", ("count",)),))
    plot = load_plot(spec, Files({"c.csv": text}), Files({"c.csv": text}, None))
    assert plot.status == "unchanged" and plot.curves == []


def test_unreadable_plot_data_names_the_file():
    with pytest.raises(DataError, match=r"^bad\.json: cannot read plot data"):
        parse_rows("bad.json", b"{oops")

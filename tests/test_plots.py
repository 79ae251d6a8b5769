"""dvc.yaml's plots: each curve drawn once, every axis titled, one colour per
revision; and the reading of long-format plot files for the PR comment."""

import json
from pathlib import Path

import pytest
import yaml
from helpers import Files

from hw2.pipeline.plots import PlotSpec, Source, load_plot, plot_specs, top_level_specs

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
TEMPLATES = ROOT / ".dvc" / "plots"
PLOTS = [next(iter(entry.items())) for entry in DVC_YAML["plots"]]


def list_files(path: str) -> list[str]:
    folder = ROOT / path
    if folder.is_dir():
        return sorted(
            str(p.relative_to(ROOT)) for p in folder.rglob("*") if p.is_file()
        )
    return [path]


def test_each_file_is_drawn_once():
    specs = plot_specs(DVC_YAML, list_files)
    files = [s.file for spec in specs for s in spec.sources]
    assert len(files) == len(set(files))
    # dvclive's curves are drawn by the named plots only, not again one by one
    for spec in specs:
        assert "/plots/metrics/" not in spec.name, spec.name
    live = list_files("metrics/train_cnn/plots/metrics")
    live += list_files("metrics/train_asr/plots/metrics")
    assert live and set(live) <= set(files)  # and none is left out


def test_stages_draw_only_pictures():
    for name, stage in DVC_YAML["stages"].items():
        for entry in stage.get("plots", []):
            path = entry if isinstance(entry, str) else next(iter(entry))
            assert path.endswith(".png"), f"{name}: {path}"


@pytest.mark.parametrize(("name", "props"), PLOTS, ids=[n for n, _ in PLOTS])
def test_every_chart_has_its_template_a_title_and_titled_axes(name, props):
    assert (TEMPLATES / f"{props['template']}.json").is_file()
    assert props.get("title")
    columns = set()
    for cols in props["y"].values():
        columns |= {cols} if isinstance(cols, str) else set(cols)
    for axis in ("x_label", "y_label"):
        label = props.get(axis)
        assert label and label not in columns | {props["x"], "y", "step"}, (axis, label)


def walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node
    if isinstance(node, dict | list):
        for child in children:
            yield from walk(child)


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.json")), ids=lambda p: p.name)
def test_templates_take_dvcs_data_and_revision_colours(path):
    spec = json.loads(path.read_text())
    assert spec["data"] == {"values": "<DVC_METRIC_DATA>"}
    assert spec.get("description")  # what it draws, for whoever picks a template
    colours = [n["color"] for n in walk(spec) if isinstance(n, dict) and "color" in n]
    # DVC fills <DVC_METRIC_COLOR> with the revisions in a fixed order and its
    # palette, the same in every chart; a colour by `rev` of a template's own would
    # let each chart order the revisions (and so the colours) its own way.
    for colour in colours:
        assert not (isinstance(colour, dict) and colour.get("field") == "rev"), path
    if "confusion" in path.name:  # one matrix per revision: no colour for them
        assert spec["facet"]["column"]["field"] == "rev"
    else:
        assert "<DVC_METRIC_COLOR>" in colours


def test_the_plots_use_every_template():
    used = {props["template"] for _, props in PLOTS}
    assert used == {p.stem for p in TEMPLATES.glob("*.json")}


def test_a_long_file_gives_one_series_per_method():
    csv = "length,method,seconds\n1,a,0.5\n2,a,0.7\n1,b_causal,2\n2,b_causal,4\n"
    faster = csv.replace("2,b_causal,4", "2,b_causal,3")
    spec = PlotSpec("time", (Source("t.csv", "length", ("seconds",)),))
    plot = load_plot(spec, Files({"t.csv": csv}), Files({"t.csv": faster}, rev=None))
    assert [(c.label, c.base, c.head, c.changed) for c in plot.curves] == [
        ("seconds (a)", [(1, 0.5), (2, 0.7)], [(1, 0.5), (2, 0.7)], False),
        ("seconds (b_causal)", [(1, 2), (2, 4)], [(1, 2), (2, 3)], True),
    ]


def test_confusion_templates_are_compared_whole():
    specs = top_level_specs(
        [{"Confusion": {"template": "confusion_share", "y": {"c.csv": "actual"}}}]
    )
    assert [s.whole for s in specs] == [True]

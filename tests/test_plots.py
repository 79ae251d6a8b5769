"""dvc.yaml's plots: every axis titled, one colour per revision, stages' plots
pictures (the PR comment's curves are drawn from `dvc plots diff --json`)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import tool_env

from hw2.pipeline.dvc import safe_page

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
TEMPLATES = ROOT / ".dvc" / "plots"
PLOTS = [next(iter(entry.items())) for entry in DVC_YAML["plots"]]


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


EVIL = "x</script><script>alert(document.domain)</script>"


def specs(page: str) -> list[dict]:
    """The Vega-Lite spec of each chart of a DVC plots page."""
    found = re.findall(r"^\s*var spec = (.*);$", page, re.M)
    return [json.loads(s) for s in found]


def test_a_spec_cannot_end_its_script():
    page = f"<script>\n    var spec = {json.dumps({'rev': EVIL})};\n</script>"
    safe = safe_page(page)
    assert "</script>" not in safe.split("\n")[1] and "<" not in safe.split("\n")[1]
    assert specs(safe) == [{"rev": EVIL}]  # the same spec, for Vega


@pytest.mark.e2e
def test_a_branch_named_like_html_stays_text_in_the_plots_page(tmp_path):
    env = tool_env()

    def sh(*cmd):
        subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True)

    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    (tmp_path / "dvc.yaml").write_text("plots:\n  - t.csv:\n      x: n\n")
    (tmp_path / "t.csv").write_text("n,v\n1,2\n2,3\n")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "one")
    sh("git", "branch", EVIL)  # a valid ref name
    (tmp_path / "t.csv").write_text("n,v\n1,2\n2,4\n")
    sh(sys.executable, str(ROOT / "scripts/plots.py"), EVIL)
    page = (tmp_path / "dvc_plots/index.html").read_text()
    assert EVIL not in page and "<script>alert" not in page
    (spec,) = specs(page)
    assert EVIL in {row["rev"] for row in spec["data"]["values"]}

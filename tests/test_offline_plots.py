"""DVC's plots pages render with no network, and show what dvc.yaml means them to.

Vega is inlined from plots/offline.html. The rendering check opens `dvc plots show`
/ `dvc plots diff` pages in headless Chromium with every host name unresolvable,
looks for the charts Vega draws and saves a screenshot of each page in
screenshots/ (git-ignored) for a person to look at. The specs DVC wrote into the
page are checked too: each chart once, its axes titled, the seed band, log axes.
"""

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from hw2.core.errors import Hw2Error
from hw2.pipeline.vega_template import PACKAGES, build_page, pinned_versions

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "plots" / "offline.html"
SCREENSHOTS = ROOT / "screenshots"
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def test_the_page_is_the_pinned_builds_inlined():
    page = TEMPLATE.read_text(encoding="utf-8")
    versions = pinned_versions(ROOT / "plots" / "package.json")
    for name in PACKAGES:
        assert f"<!-- {name}@{versions[name]} build/{name}.min.js -->" in page
    assert page.count("{plot_divs}") == 1
    assert "{scripts}" not in page  # DVC's CDN <script> tags have nowhere to go
    assert not re.search(r"<script[^>]*\bsrc=", page)
    config = (ROOT / ".dvc" / "config").read_text()
    assert re.search(r"html_template = \.\./plots/offline\.html", config)


def test_a_build_that_would_break_the_page_is_refused():
    versions = dict.fromkeys(PACKAGES, "1.0.0")
    builds = dict.fromkeys(PACKAGES, "var a=1;")
    assert build_page(builds, versions).count("<script>") == 3
    for bad in ('x="</script>"', "x='{plot_divs}'"):
        with pytest.raises(Hw2Error, match="cannot inline"):
            build_page({**builds, "vega-lite": bad}, versions)


def test_versions_must_be_exact(tmp_path):
    pkg = tmp_path / "package.json"
    deps = {"vega": "5.33.1", "vega-lite": "^5.23.0", "vega-embed": "6.29.0"}
    pkg.write_text(json.dumps({"dependencies": deps}))
    with pytest.raises(Hw2Error, match=r"dependencies\.vega-lite must be an exact"):
        pinned_versions(pkg)


class _Charts(HTMLParser):
    """Which of the given div ids hold a chart Vega drew (canvas or svg.marks)."""

    def __init__(self, ids: set[str]):
        super().__init__()
        self.ids = ids
        self.stack: list[str | None] = []
        self.drawn: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "canvas" or (tag == "svg" and "marks" in classes):
            self.drawn |= {i for i in self.stack if i in self.ids}
        if tag == "div":
            self.stack.append(attrs.get("id"))

    def handle_endtag(self, tag):
        if tag == "div" and self.stack:
            self.stack.pop()


def vega_ids(page: str) -> set[str]:
    """The divs DVC asks Vega-Embed to fill."""
    return set(re.findall(r"vegaEmbed\('#([^']+)'", page))


def browser() -> str | None:
    """A Chromium to test with: $CHROMIUM, or the first on PATH."""
    names = [os.environ.get("CHROMIUM", ""), *BROWSERS]
    return next((shutil.which(n) for n in names if n and shutil.which(n)), None)


def chromium(page: Path, profile: Path, *args: str) -> str:
    """Headless Chromium on the page, offline, after its scripts ran; stdout."""
    cmd = [
        browser(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no network, even where there is
        "--virtual-time-budget=10000",
        *args,
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def rendered_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran in headless Chromium, offline."""
    return chromium(page, profile, "--dump-dom")


def screenshot(page: Path, profile: Path, png: Path, width: int, height: int) -> None:
    """A PNG of the page as Chromium drew it (the top `height` pixels)."""
    png.parent.mkdir(exist_ok=True)
    chromium(page, profile, f"--window-size={width},{height}", f"--screenshot={png}")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def page_specs(page: str) -> dict[str, dict]:
    """The Vega-Lite spec DVC wrote for each chart of a plots page, by div id."""
    specs = {}
    for match in re.finditer(
        r"<div id = \"([^\"]+)\">\s*<script[^>]*>\s*var spec = ", page
    ):
        spec, _ = json.JSONDecoder().raw_decode(page, match.end())
        specs[match.group(1)] = spec
    return specs


def dvc(*args: str) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(["dvc", *args], cwd=ROOT, env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"WARNING" not in proc.stderr, proc.stderr.decode()[-2000:]


@pytest.mark.e2e
@pytest.mark.skipif(
    browser() is None,
    reason="no Chromium on PATH (apt-get install chromium, or set CHROMIUM): "
    "offline rendering of the plots pages not checked",
)
@pytest.mark.parametrize("command", ["show", "diff"])
def test_plots_pages_render_offline(tmp_path, command):
    # A nested output folder: the page must not depend on where DVC writes it.
    out = tmp_path / "deep" / "er"
    dvc("plots", command, "-o", str(out), *(["HEAD"] if command == "diff" else []))
    page = (out / "index.html").read_text(encoding="utf-8")
    ids = vega_ids(page)
    body = page.rsplit("<body>", 1)[1]
    assert ids and "<canvas" not in body  # only Vega, run in the browser, draws
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing to fetch
    charts = _Charts(ids)
    charts.feed(rendered_dom(out / "index.html", tmp_path / "profile"))
    assert charts.drawn == ids
    # for a person to look at: the charts of the named plots, then the pictures
    width = 1300 if command == "show" else 1700
    png = SCREENSHOTS / f"plots_{command}.png"
    screenshot(out / "index.html", tmp_path / "profile", png, width, 3400)


def test_the_plots_page_draws_each_named_plot_once_as_meant(tmp_path):
    dvc("plots", "show", "-o", str(tmp_path))
    specs = page_specs((tmp_path / "index.html").read_text(encoding="utf-8"))
    named = {name: props for e in DVC_YAML["plots"] for name, props in e.items()}
    by_title = {spec["title"]["text"]: spec for spec in specs.values()}
    assert len(by_title) == len(specs) == len(named)  # each chart once, no others
    for name, props in named.items():
        spec = by_title[props["title"]]
        text = json.dumps(spec)
        assert "<DVC_METRIC" not in text, name  # every anchor filled
        titles = {
            n.get("title") for n in _walk(spec) if isinstance(n.get("title"), str)
        }
        assert {props["x_label"], props["y_label"]} <= titles, name
        marks = {_mark(layer) for layer in spec.get("layer", [spec])}
        if props["template"] == "band":  # the seed band under the mean
            assert {"area", "line"} <= marks, name
        if props["template"].startswith("methods"):  # a line per method, log axes
            assert spec["encoding"]["y"]["scale"]["type"] == "log"
            assert spec["encoding"]["detail"] == {"field": "method"}
        if "confusion" not in props["template"]:  # revisions in DVC's colours
            colour = spec["encoding"]["color"]
            assert colour["field"] == "rev" and colour["scale"]["domain"], name


def _walk(node):
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)


def _mark(layer: dict) -> str | None:
    mark = layer.get("mark")
    return mark.get("type") if isinstance(mark, dict) else mark

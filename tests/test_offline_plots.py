"""DVC's plots pages render with no network: Vega is inlined from plots/offline.html.

The rendering check opens `dvc plots show` / `dvc plots diff` pages in headless
Chromium with every host name unresolvable and looks for the charts Vega draws.
"""

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hw2.core.errors import Hw2Error
from hw2.pipeline.vega_template import PACKAGES, build_page, pinned_versions

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "plots" / "offline.html"
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


def rendered_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran in headless Chromium, offline."""
    cmd = [
        browser(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no network, even where there is
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def dvc(*args: str) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(["dvc", *args], cwd=ROOT, env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]


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

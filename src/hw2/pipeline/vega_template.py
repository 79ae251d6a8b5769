"""DVC's plots HTML page with Vega, Vega-Lite and Vega-Embed inlined: no network.

DVC's default page loads the three libraries from a CDN, so `dvc plots show` and
`dvc plots diff` pages stay blank offline. `.dvc/config` points
`plots.html_template` at the page built here instead. The libraries are inlined
rather than linked because DVC writes the page wherever `-o` says (dvc_plots/ by
default, relative to the current folder): no relative link to the repository
would hold for every output folder, while an inlined page works anywhere.

The versions are pinned in plots/package.json; `make plots-template` fetches
those npm packages (`npm pack`) and rebuilds plots/offline.html.
"""

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

from hw2.core.errors import Hw2Error
from hw2.core.io import atomic_path

# The order the page loads them in: Vega-Lite compiles to Vega, Vega-Embed uses both.
PACKAGES = ("vega", "vega-lite", "vega-embed")
# DVC fills these; the page has no {scripts} so DVC's CDN <script> tags are dropped.
PLACEHOLDERS = ("{refresh_tag}", "{plot_divs}")

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- Built by `make plots-template` from plots/package.json: the npm
         packages' build/*.min.js, inlined so the page renders offline.
         Vega, Vega-Lite and Vega-Embed: Copyright (c) 2015, University of
         Washington Interactive Data Lab, BSD-3-Clause (plots/LICENSE-vega). -->
__SCRIPTS__
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def pinned_versions(package_json: str | Path) -> dict[str, str]:
    """The exact version of each of PACKAGES that plots/package.json pins."""
    deps = json.loads(Path(package_json).read_text()).get("dependencies", {})
    versions = {}
    for name in PACKAGES:
        version = deps.get(name, "")
        if not version or not version[0].isdigit():
            raise Hw2Error(
                f"{package_json}: dependencies.{name} must be an exact version, "
                f"got {version!r}"
            )
        versions[name] = version
    return versions


def build_page(builds: dict[str, str], versions: dict[str, str]) -> str:
    """The HTML template with each package's minified build in a <script>."""
    blocks = []
    for name in PACKAGES:
        code = builds[name]
        # Inside <script>, "</script" ends the element and a placeholder would be
        # filled by DVC: either would break the page.
        for bad in ("</script", *PLACEHOLDERS):
            if bad.lower() in code.lower():
                raise Hw2Error(f"{name}.min.js contains {bad!r}: cannot inline it")
        blocks.append(
            f"    <!-- {name}@{versions[name]} build/{name}.min.js -->\n"
            f"    <script>{code.strip()}</script>"
        )
    return PAGE.replace("__SCRIPTS__", "\n".join(blocks))


def npm_builds(versions: dict[str, str], workdir: Path) -> dict[str, str]:
    """Each package's build/<name>.min.js, from its npm tarball (`npm pack`)."""
    specs = [f"{name}@{versions[name]}" for name in PACKAGES]
    cmd = ["npm", "pack", "--silent", "--pack-destination", str(workdir), *specs]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise Hw2Error("npm not found: it fetches the pinned Vega packages") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise Hw2Error(f"npm pack {' '.join(specs)} failed: {last}")
    builds = {}
    for name in PACKAGES:
        tarball = workdir / f"{name}-{versions[name]}.tgz"
        member = f"package/build/{name}.min.js"
        with tarfile.open(tarball) as tar:
            try:
                data = tar.extractfile(member)
            except KeyError:
                data = None
            if data is None:
                raise Hw2Error(f"{tarball.name} has no {member}")
            builds[name] = data.read().decode("utf-8")
    return builds


def refresh_template(package_json: str | Path, out: str | Path) -> Path:
    """Fetch the pinned builds from npm and write the offline page to `out`."""
    versions = pinned_versions(package_json)
    with tempfile.TemporaryDirectory() as tmp:
        page = build_page(npm_builds(versions, Path(tmp)), versions)
    with atomic_path(out) as tmp_out:
        tmp_out.write_text(page, encoding="utf-8")
    return Path(out)

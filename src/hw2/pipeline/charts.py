"""The charts of dvc.yaml's plots as PNGs: `dvc plots show --json` gives each one
as a Vega-Lite spec of the project's template (.dvc/plots) holding its data, and
vl-convert renders it offline, the same bytes for the same spec."""

import re
from pathlib import Path

import vl_convert

from hw2.core.errors import DataError
from hw2.pipeline.dvc import run_json


def slug(name: str) -> str:
    """A plot's name as a file name: `CNN test confusion` -> cnn-test-confusion."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_charts(root: Path, folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Each chart declared in dvc.yaml (image plots left out) drawn into `folder`:
    ({plot name: PNG file name}, {plot name: a data file it misses})."""
    shown = run_json(["dvc", "plots", "show", "--json"], root)
    missing = {}
    for error in shown.get("errors") or []:
        if error.get("type") != "FileNotFoundError":  # a file DVC cannot parse
            where = error.get("source") or error["name"]
            raise DataError(f"{where}: {error.get('msg')}")
        missing.setdefault(error["name"], error["source"])
    written = {}
    for name, entries in (shown.get("data") or {}).items():
        # a chart missing one of its files would draw half its lines: not drawn
        if name in missing or not entries or entries[0]["type"] != "vega":
            continue
        written[name] = f"{slug(name)}.png"
        png = vl_convert.vegalite_to_png(entries[0]["content"])
        (folder / written[name]).write_bytes(png)
    return written, missing

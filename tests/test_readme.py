"""The README's map of the repository lists every library module, and only those."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_modules() -> set[str]:
    """src/hw2/... paths of the modules the README's repository map names."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## What is in the repository", 1)[1].split("```")[1]
    found, wing = set(), None
    for line in block.splitlines():
        if m := re.match(r"^  (\w+)/\s", line):
            wing = m.group(1)
        elif (m := re.match(r"^    (\w+\.py)\s", line)) and wing:
            found.add(f"src/hw2/{wing}/{m.group(1)}")
    return found


def test_readme_map_matches_the_tree():
    modules = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "src" / "hw2").rglob("*.py")
        if p.name != "__init__.py"
    }
    assert readme_modules() == modules

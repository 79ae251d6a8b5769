"""A short document as blocks, written as GitHub Markdown or as terminal text.

The PR comment is Markdown (tables, folded <details>, images, a hidden marker);
`make diff` prints the same content to a terminal, where raw HTML and pipes are
noise: aligned columns, folded parts shown under their summary, images as paths.
"""

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 88


@dataclass
class Heading:
    """A section title."""

    text: str
    level: int = 3


@dataclass
class Para:
    """A paragraph; `code` spans in backticks, **bold** dropped in text."""

    text: str


@dataclass
class Alert:
    """A warning a reader must not miss."""

    text: str


@dataclass
class Table:
    """Rows of cells under a header."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass
class Image:
    """A picture: its description and where it is (relative to the document)."""

    alt: str
    target: str


@dataclass
class Folded:
    """Blocks a reader opens when interested (Markdown <details>)."""

    summary: str
    blocks: list = field(default_factory=list)


@dataclass
class Note:
    """Small print at the end."""

    text: str


@dataclass
class Marker:
    """A hidden marker (an HTML comment) that finds the comment again."""

    text: str


Block = Heading | Para | Alert | Table | Image | Folded | Note | Marker


def cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def to_markdown(blocks: Sequence[Block]) -> str:
    """GitHub Markdown."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [b.text, ""]
        elif isinstance(b, Alert):
            out += [f"> **Warning:** {b.text}", ""]
        elif isinstance(b, Table):
            out += ["| " + " | ".join(cell(h) for h in b.header) + " |"]
            out += ["|" + "---|" * len(b.header)]
            out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in b.rows]
            out += [""]
        elif isinstance(b, Image):
            out += [f"![{b.alt}]({b.target})", ""]
        elif isinstance(b, Folded):
            out += [f"<details><summary>{b.summary}</summary>", ""]
            out += [to_markdown(b.blocks).rstrip(), "", "</details>", ""]
        elif isinstance(b, Note):
            out += [f"<sub>{b.text}</sub>", ""]
        elif isinstance(b, Marker):
            out += [f"<!-- {b.text} -->"]
    return "\n".join(out).rstrip() + "\n"


def plain(text: str) -> str:
    """Inline Markdown a terminal shows as is: no **bold**, *italics* or `code`
    markers."""
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    return re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"\1", text)


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(
        plain(text), WIDTH, initial_indent=indent, subsequent_indent=indent
    ) or [""]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns aligned with spaces, the header underlined; numbers right-aligned."""
    grid = [[plain(c) for c in header]] + [[plain(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in grid) for i in range(len(header))]
    numeric = [
        all(re.fullmatch(r"[-+–]?[\d,.]+\S*", r[i] or "–") for r in grid[1:])
        for i in range(len(header))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [line(grid[0]), "  ".join("-" * w for w in widths)] + [
        line(r) for r in grid[1:]
    ]


def to_text(blocks: Sequence[Block], indent: str = "") -> str:
    """Terminal text: no HTML, no pipes; folded parts shown under their summary."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            title = plain(b.text)
            out += [indent + title, indent + ("=" if b.level < 3 else "-") * len(title)]
        elif isinstance(b, Para):
            out += _wrap(b.text, indent)
        elif isinstance(b, Alert):
            out += _wrap("WARNING: " + b.text, indent)
        elif isinstance(b, Table):
            out += [indent + line for line in text_table(b.header, b.rows)]
        elif isinstance(b, Image):
            out += _wrap(f"[{b.alt}: {b.target}]", indent)
        elif isinstance(b, Folded):
            out += _wrap(b.summary + ":", indent)
            out += [to_text(b.blocks, indent + "  ").rstrip("\n")]
        elif isinstance(b, Note):
            out += _wrap(b.text, indent)
        elif isinstance(b, Marker):
            continue
        out.append("")
    return "\n".join(out).rstrip() + "\n"

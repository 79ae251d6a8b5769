"""The LJ Speech 1.1 on-disk format: wavs/<id>.wav and metadata.csv (id|raw|normalized).

Splits follow the homework: by row order, train [0, 9825), validation [9825, 10480),
test [10480, 13100) of 13,100 rows; a corpus of another size keeps the proportions.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from hw2.core.errors import DataError
from hw2.core.params import short

LJ_ROWS = 13100
SAMPLE_RATE = 22050  # Hz, mono 16-bit WAV
LJ_BOUNDS = (9825, 10480)  # train | validation | test
SPLITS = ("train", "validation", "test")
# Written beside metadata.csv by the synthesised sample only: how it was made,
# with the list of its voices. The real LJ Speech has no such file: one reader.
SAMPLE_INFO = "sample.json"
# Bytes of a clip id: wavs/<id>.wav must be a valid file name (255 bytes, less
# the suffix).
MAX_ID_BYTES = 255 - len(".wav")


@dataclass(frozen=True)
class Row:
    """One metadata.csv row."""

    id: str
    raw: str
    normalized: str


def read_metadata(path: str | Path) -> list[Row]:
    """Parse metadata.csv; a malformed row or empty transcript names its line."""
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark, which some editors write, is not glued
        # to the first clip id
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    rows: list[Row] = []
    seen: set[str] = set()
    # Rows end at '\n' only: str.splitlines() also splits at U+2028, U+0085,
    # \x1c-\x1e, \v and \f, which then cut a transcript and shift line numbers.
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 3:
            raise DataError(
                f"{path}:{lineno}: expected 3 fields 'id|raw|normalized', "
                f"got {len(fields)}"
            )
        clip_id, raw, normalized = (f.strip() for f in fields)
        where = f"{path}:{lineno}: clip id {short(clip_id)}"
        if not clip_id or "/" in clip_id or clip_id.startswith("."):
            raise DataError(f"{path}:{lineno}: bad clip id {short(clip_id)}")
        if any(c.isspace() for c in clip_id):
            # features' ids.txt holds one id per line, split on whitespace
            raise DataError(f"{where} contains a space")
        if len(clip_id.encode()) > MAX_ID_BYTES:
            raise DataError(
                f"{where} is {len(clip_id.encode())} bytes, longer than a file name "
                f"allows ({MAX_ID_BYTES})"
            )
        if clip_id in seen:
            raise DataError(f"{path}:{lineno}: duplicate clip id {short(clip_id)}")
        if not normalized:
            raise DataError(f"{path}:{lineno}: empty transcript for {short(clip_id)}")
        seen.add(clip_id)
        rows.append(Row(clip_id, raw, normalized))
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def write_metadata(path: str | Path, rows: list[Row]) -> None:
    """Write rows in LJ Speech's format (no header, '|' separated)."""
    lines = []
    for r in rows:
        if any("|" in f or "\n" in f for f in (r.id, r.raw, r.normalized)):
            raise ValueError(f"row {r.id}: fields may not hold '|' or newlines")
        lines.append(f"{r.id}|{r.raw}|{r.normalized}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def split_bounds(n_rows: int) -> tuple[int, int]:
    """Row indices where validation and test begin, in the homework's proportions."""
    if n_rows == LJ_ROWS:
        return LJ_BOUNDS
    a = round(n_rows * LJ_BOUNDS[0] / LJ_ROWS)
    b = round(n_rows * LJ_BOUNDS[1] / LJ_ROWS)
    # every split gets at least one row when there are three or more
    a = min(max(a, 1), n_rows - 2) if n_rows >= 3 else a
    b = min(max(b, a + 1), n_rows - 1) if n_rows >= 3 else b
    return a, b


def split_rows(rows: list[Row]) -> dict[str, list[Row]]:
    """The rows of each split, by row order."""
    a, b = split_bounds(len(rows))
    return {"train": rows[:a], "validation": rows[a:b], "test": rows[b:]}


def corpus_voices(folder: str | Path) -> int:
    """How many voices read the corpus: len(sample.json's voices), else 1 (LJ)."""
    path = Path(folder) / SAMPLE_INFO
    if not path.exists():
        return 1
    try:
        voices = json.loads(path.read_text(encoding="utf-8"))["voices"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(voices, list) or not voices:
        raise DataError(
            f"{path}: 'voices' must be a non-empty list, got {short(voices)}"
        )
    return len(voices)

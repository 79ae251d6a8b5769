"""Reading params.yaml with checks: every bad value is one line naming its key.

Typos are errors too: a key written twice, or a key params.yaml's schema (KEYS)
does not know in a section a stage reads, is refused with the closest known name.
The file itself is checked before it is parsed: UTF-8 (a bad byte names its line),
at most MAX_FILE_BYTES, and no YAML aliases (`*name`), whose expansion can turn a
few lines into gigabytes. Sizes have upper bounds (LIMITS) besides the stages' own.
The file as read is remembered, with the keys a stage reads, so that a stage can
stop when the file changes under it (changed_since_read).
"""

import copy
import difflib
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from hw2.core.errors import ParamError

_MISSING = object()

# Each data branch (data.images, data.speech) has its own `source`, so the two
# switch and cache independently.
DATA_SOURCES = ("sample", "full")  # sample: made here, no network | full: downloads

# Every key params.yaml may hold, as dotted paths to its values: the one list of
# them. A stage that reads a key checks each section on the way there (`cnn` when
# it reads cnn.epochs), so `cnn.epoch: 1` is refused instead of silently ignored.
_KEYS = """
    lr decoder device threads
    data.images.source data.images.url data.images.md5
    data.images.sample.n_train data.images.sample.n_val data.images.sample.n_test
    data.images.sample.seed data.images.sample.priors.train
    data.images.sample.priors.val data.images.sample.priors.test
    data.speech.source data.speech.url data.speech.sha256
    data.speech.sample.n_clips data.speech.sample.seed data.speech.sample.voices
    data.speech.sample.words
    cnn.maxpool cnn.batch_size cnn.epochs cnn.seed cnn.seeds
    asr.max_frames asr.lr asr.eval_batch_size asr.label_smoothing asr.warmup
    asr.val_decode asr.seed asr.attention asr.cross_attention asr.attention_form
    asr.cpu_bf16
    asr.model.hidden asr.model.heads asr.model.mlp asr.model.encoder_layers
    asr.epochs.sample asr.epochs.full asr.batch_size.sample asr.batch_size.full
    attention.head_dim attention.terms attention.lengths attention.error_terms
    attention.seed attention.threads
"""
KEYS = tuple(_KEYS.split())


def schema(keys: Sequence[str]) -> dict[str, set[str]]:
    """Each section's known names ('' is the top level) from dotted keys."""
    sections: dict[str, set[str]] = {}
    for key in keys:
        parts = key.split(".")
        for depth in range(len(parts)):
            sections.setdefault(".".join(parts[:depth]), set()).add(parts[depth])
    return sections


SCHEMA = schema(KEYS)

# Upper bounds where a stage sets none: values past these are typos (a few zeros
# too many) that would exhaust memory or disk before anything else noticed them.
LIMITS = {
    "data.images.sample.n_train": 1_000_000,  # OCTMNIST has 97,477
    "data.images.sample.n_val": 1_000_000,
    "data.images.sample.n_test": 1_000_000,
    "asr.max_frames": 100_000,  # 1,000 s of audio
    "asr.model.hidden": 4096,  # the homework's 200
    "asr.model.heads": 64,
    "asr.model.mlp": 16384,
    "asr.model.encoder_layers": 64,
    "asr.epochs.sample": 10_000,
    "asr.epochs.full": 10_000,
    "asr.batch_size.sample": 4096,
    "asr.batch_size.full": 4096,
    "asr.eval_batch_size": 4096,
    "asr.val_decode": 1_000_000,
    "cnn.batch_size": 1_000_000,
    "cnn.epochs": 10_000,
    "threads": 1024,  # CPU threads per process
}
MAX_FILE_BYTES = 1 << 20  # params.yaml is a few KB


def short(value: Any, width: int = 60) -> str:
    """repr(value) cut to `width` characters: errors never print a huge value."""
    if isinstance(value, list | dict) and len(value) > width:
        return f"<a {type(value).__name__} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


class Params:
    """Typed, checked access to a params.yaml mapping by dotted key."""

    def __init__(
        self,
        data: Any,
        source: str = "params.yaml",
        known: Mapping[str, set[str]] | None = None,
    ):
        """known: each section's allowed names (SCHEMA); None accepts any key."""
        if not isinstance(data, dict):
            raise ParamError(f"{source}: expected a mapping at the top level")
        self.data = data
        self.source = source
        self.known = known
        self._checked: set[str] = set()
        # every dotted key read and what it held (_MISSING: absent)
        self.values_read: dict[str, Any] = {}

    def _check_section(self, section: str, node: dict) -> None:
        """Refuse a name in this section the schema does not know (once each)."""
        if self.known is None or section in self._checked:
            return
        self._checked.add(section)
        allowed = self.known.get(section)
        if allowed is None:
            return  # not a section of the schema: its value checks speak for it
        prefix = f"{section}." if section else ""
        for name in node:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
                hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
                raise ParamError(f"{self.source}: unknown key '{prefix}{name}'{hint}")

    def _fail(self, key: str, allowed: str, value: Any) -> ParamError:
        return ParamError(f"{self.source}: {key} must be {allowed}, got {short(value)}")

    def get(self, key: str) -> Any:
        """The raw value at a dotted key; a missing key is an error."""
        node: Any = self.data
        parts = key.split(".")
        for depth, part in enumerate(parts):
            section = ".".join(parts[:depth])
            if not isinstance(node, dict):
                # `asr.batch_size: 0` where a section of per-source values belongs
                names = sorted((self.known or {}).get(section) or [])
                allowed = f"with keys {', '.join(names)}" if names else "(a mapping)"
                raise self._fail(section, f"a section {allowed}", node)
            self._check_section(section, node)
            if part not in node:
                self.values_read[key] = _MISSING
                raise ParamError(f"{self.source}: missing key '{key}'")
            node = node[part]
        self.values_read[key] = node
        return node

    def override(
        self, changes: Mapping[str, Any], *, remove: Iterable[str] = ()
    ) -> "Params":
        """A copy with dotted keys set (sections made as needed) and `remove`d.

        The copy keeps this file's name and schema, so a key the schema does not
        know is refused where a stage reads its section, as in params.yaml itself.
        """
        data = copy.deepcopy(self.data)
        for key in [*changes, *remove]:
            *parents, last = key.split(".")
            node = data
            for depth, part in enumerate(parents):
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    section = ".".join(parents[: depth + 1])
                    raise ParamError(
                        f"{self.source}: cannot set '{key}': '{section}' is a value, "
                        "not a section"
                    )
            if key in changes:
                node[last] = changes[key]
            else:
                node.pop(last, None)
        return Params(data, self.source, self.known)

    def _bounded(self, key, kind, types, low, high, low_open=False) -> Any:
        """A `types` value (never a bool) in [low, high], or (low, high] with
        low_open; LIMITS caps `high`."""
        value = self.get(key)
        high = _cap(key, high)
        lo = "" if low is None else (f" > {low}" if low_open else f" >= {low}")
        hi = "" if high is None else f" <= {high}"
        if (
            isinstance(value, bool)
            or not isinstance(value, types)
            or (isinstance(value, float) and not math.isfinite(value))
            or (low is not None and (value <= low if low_open else value < low))
            or (high is not None and value > high)
        ):
            raise self._fail(key, kind + lo + ("," if lo and hi else "") + hi, value)
        return value

    def number(
        self,
        key: str,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
    ) -> float:
        """A finite float in [low, high] (or (low, high] with low_open)."""
        return float(self._bounded(key, "a number", int | float, low, high, low_open))

    def integer(
        self, key: str, *, low: int | None = None, high: int | None = None
    ) -> int:
        """An int in [low, high]."""
        return self._bounded(key, "an integer", int, low, high)

    def boolean(self, key: str) -> bool:
        """true or false (nothing else: 'maybe' and 1 are refused)."""
        value = self.get(key)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def choice(self, key: str, options: Sequence[str]) -> str:
        """One of the allowed strings."""
        value = self.get(key)
        if value not in options:
            raise self._fail(key, "one of " + " | ".join(options), value)
        return value

    def string(self, key: str) -> str:
        """A non-empty string."""
        value = self.get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string", value)
        return value

    def int_list(self, key: str, *, low: int | None = None) -> list[int]:
        """A non-empty list of integers, each >= low."""
        value = self.get(key)
        allowed = "a non-empty list of integers" + ("" if low is None else f" >= {low}")
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
            or (low is not None and any(v < low for v in value))
        ):
            raise self._fail(key, allowed, value)
        return list(value)


def _cap(key: str, high: Any) -> Any:
    limit = LIMITS.get(key)
    return high if limit is None or (high is not None and high <= limit) else limit


def _yaml() -> YAML:
    # DVC's own loader (dvc/utils/serialize/_yaml.py, parse_yaml): ruamel's safe
    # YAML 1.2, so a value read here is the one dvc.lock, `dvc params diff` and
    # `dvc exp show` record (`010` is 10, `1e-3` 0.001, `off` and `1:30` strings).
    return YAML(typ="safe")


def parse_yaml(text: str | bytes) -> Any:
    """YAML as DVC parses it (params.yaml, dvc.yaml, dvc.lock, metrics files);
    raises YAMLError. The project's one YAML reader."""
    return _yaml().load(text)


def read_yaml(path: str | Path) -> Any:
    """A YAML file as DVC parses it; None where there is no file."""
    path = Path(path)
    return parse_yaml(path.read_bytes()) if path.is_file() else None


def _first_line(text: str, again: int) -> int | None:
    """The line of the first of two equal keys, the second on line `again`."""
    pending = [_yaml().compose(text)]
    while pending:
        node = pending.pop()
        if isinstance(node, SequenceNode):
            pending += node.value
        elif isinstance(node, MappingNode):
            lines: dict[tuple, int] = {}
            for key, value in node.value:
                line = key.start_mark.line + 1
                ident = (key.tag, key.value) if isinstance(key, ScalarNode) else None
                if line == again and ident in lines:
                    return lines[ident]
                if ident is not None:
                    lines.setdefault(ident, line)
                pending.append(value)
    return None


def _read(path: Path) -> str:
    """The file's text: UTF-8, at most MAX_FILE_BYTES; ParamError otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParamError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ParamError(
            f"{path}: {len(raw):,} bytes, more than a params file holds "
            f"(at most {MAX_FILE_BYTES:,})"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ParamError(
            f"{path}: line {line}: byte 0x{raw[exc.start]:02x} at column {column} is "
            "not UTF-8 (save the file as UTF-8)"
        ) from None


def _parse(path: Path) -> Any:
    """params.yaml parsed; a syntax error, an alias or a repeated key names its line."""
    text = _read(path)
    try:
        # Aliases are refused before anything is built: `*a` repeated in nested
        # lists ("billion laughs") expands a few lines into gigabytes.
        for event in _yaml().parse(text):
            if isinstance(event, AliasEvent):
                raise ParamError(
                    f"{path}: line {event.start_mark.line + 1}: YAML aliases "
                    f"(*{short(event.anchor, 20)[1:-1]}) are not allowed; write "
                    "the value out"
                )
        return parse_yaml(text)
    except DuplicateKeyError as exc:
        # DVC refuses such a file too; say which key and where
        again = exc.problem_mark.line + 1
        key = re.search(r'duplicate key "(.*)" with value', str(exc.problem))
        name = key.group(1) if key else "?"
        first = _first_line(text, again)
        lines = f"lines {first} and {again}" if first else f"line {again}"
        raise ParamError(f"{path}: key {name!r} written twice ({lines})") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ParamError(f"{path}:{where} is not valid YAML") from None


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is rewritten; None where there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class _Loaded:
    path: Path
    params: "Params"
    signature: tuple[int, int, int] | None
    data: Any  # a copy of what the file held when it was read
    unreadable: int = 0  # polls in a row that found the file unparsable


_LOADED: list[_Loaded] = []


def load_params(path: str | Path = "params.yaml") -> Params:
    """Parse params.yaml; a syntax error or a repeated key names the file and line.

    The result refuses keys SCHEMA does not know in the sections a stage reads.
    """
    path = Path(path)
    signature = _signature(path)
    data = _parse(path)
    if data is None:
        raise ParamError(
            f"{path}: empty (it holds the pipeline's params; `git checkout {path}` "
            "restores the committed ones)"
        )
    params = Params(data, source=str(path), known=SCHEMA)
    _LOADED.append(_Loaded(path, params, signature, copy.deepcopy(data)))
    return params


def _leaves(tree: Any, prefix: str = "") -> list[str]:
    """The dotted key of every leaf of a params mapping (a list, or {}, is one)."""
    if not isinstance(tree, dict) or (prefix and not tree):
        return [prefix[:-1]] if prefix else []
    return [k for key, value in tree.items() for k in _leaves(value, f"{prefix}{key}.")]


def lookup(data: Any, key: str) -> Any:
    """The value at a dotted key of a mapping, unchecked; _MISSING if absent."""
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _shown(value: Any) -> str:
    return "(absent)" if value is _MISSING else short(value, 30)


def _differs(old: Any, new: Any) -> bool:
    return new != old or type(new) is not type(old)


def loaded() -> int:
    """How many params files load_params has read in this process so far."""
    return len(_LOADED)


def changed_since_read(since: int = 0) -> str | None:
    """How a params file that load_params read (the since-th and later) now
    differs from what it held then ('params.yaml: lr 0.01 -> 0.03'), a value
    that was read named first; None while no value differs (comments may).

    Any value counts, read or not: a run's params are those of the file at its
    start, and DVC records the file's values as they are when it ends.
    A file caught half written (unparsable) counts only when it stays so.
    """
    for loaded in _LOADED[since:]:
        signature = _signature(loaded.path)
        if signature == loaded.signature:
            continue
        try:
            data = _parse(loaded.path) if signature is not None else {}
        except ParamError as exc:
            loaded.unreadable += 1
            if loaded.unreadable < 2:
                continue
            return f"{exc} (it changed while the stage ran)"
        loaded.unreadable = 0
        for key in [*loaded.params.values_read, *_leaves(loaded.data), *_leaves(data)]:
            old, new = lookup(loaded.data, key), lookup(data, key)
            if _differs(old, new):
                return f"{loaded.path}: {key} {_shown(old)} -> {_shown(new)}"
        loaded.signature = signature
    return None

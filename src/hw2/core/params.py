"""Reading params.yaml with checks: every bad value is one line naming its key."""

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hw2.core.errors import ParamError

_MISSING = object()

# Each data branch (data.images, data.speech) has its own `source`, so the two
# switch and cache independently.
DATA_SOURCES = ("sample", "full")  # sample: made here, no network | full: downloads


class Params:
    """Typed, checked access to a params.yaml mapping by dotted key."""

    def __init__(self, data: Any, source: str = "params.yaml"):
        if not isinstance(data, dict):
            raise ParamError(f"{source}: expected a mapping at the top level")
        self.data = data
        self.source = source

    def _fail(self, key: str, allowed: str, value: Any) -> ParamError:
        return ParamError(f"{self.source}: {key} must be {allowed}, got {value!r}")

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The raw value at a dotted key; a missing key is an error unless defaulted."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is not _MISSING:
                    return default
                raise ParamError(f"{self.source}: missing key '{key}'")
            node = node[part]
        return node

    def number(
        self,
        key: str,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
    ) -> float:
        """A finite float in [low, high] (or (low, high] with low_open)."""
        value = self.get(key)
        lo = "" if low is None else (f" > {low}" if low_open else f" >= {low}")
        hi = "" if high is None else f" <= {high}"
        allowed = "a number" + lo + ("," if lo and hi else "") + hi
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, allowed, value)
        x = float(value)
        if (
            not math.isfinite(x)
            or (low is not None and (x <= low if low_open else x < low))
            or (high is not None and x > high)
        ):
            raise self._fail(key, allowed, value)
        return x

    def integer(
        self, key: str, *, low: int | None = None, high: int | None = None
    ) -> int:
        """An int in [low, high]."""
        value = self.get(key)
        lo = "" if low is None else f" >= {low}"
        hi = "" if high is None else f" <= {high}"
        allowed = "an integer" + lo + ("," if lo and hi else "") + hi
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, allowed, value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self._fail(key, allowed, value)
        return value

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


def load_params(path: str | Path = "params.yaml") -> Params:
    """Parse params.yaml; a syntax error names the file and line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ParamError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ParamError(f"{path}:{where} is not valid YAML") from None
    return Params(data, source=str(path))

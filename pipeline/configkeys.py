"""What one config key may hold, and the check of a value against it.

Every field of a config section (``pipeline/config.py``) is declared with
:func:`key`: its default, a one-line help and the allowed range. The loader,
its error messages and the generated ``pipeline/defaults.yaml`` all read that
one declaration, so there is no second list of defaults to drift from it.

A value is converted and checked in one step (:func:`check`); whatever YAML
hands over (NaN, ``.inf``, a 400-digit number, a list where a number belongs,
a header with a line break) ends as a :class:`ConfigError` naming the key and
what is allowed, never as an OverflowError or a TypeError further on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import ConfigError

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
YEAR = 366 * DAY
KIB, MIB, GIB = 1024, 1024 ** 2, 1024 ** 3
# A duration with no range of its own (``rematch --since``) is still bounded:
# ten years is more than anyone means, and timedelta overflows not far beyond.
LONGEST = 3660 * DAY

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEADER = re.compile(r"^[\x20-\x7e]+$")          # what httpx can send: printable ASCII
_MAX_TEXT = 1024                                 # characters in a header value or a path


@dataclass(frozen=True)
class Key:
    """The schema of one key: what it is for and what it may hold."""

    help: str
    kind: str                      # one of _PARSERS: bool, int, float, seconds, duration, ...
    low: float | None = None       # inclusive, or exclusive when low_open
    high: float | None = None      # inclusive
    low_open: bool = False
    not_above: str | None = None   # another key of the same section this one may not exceed

    def allowed(self) -> str:
        """The range or values, as error messages and defaults.yaml show them."""
        if self.kind in _DESCRIPTIONS:
            return _DESCRIPTIONS[self.kind]
        bounds = self._bounds()
        return f"{bounds}, not more than {self.not_above}" if self.not_above else bounds

    def _bounds(self) -> str:
        show = format_duration if self.kind in ("seconds", "duration") else _number
        low = None if self.low is None else show(self.low)
        high = None if self.high is None else show(self.high)
        if self.low_open:
            return f"more than {low}" + (f", at most {high}" if high is not None else "")
        if low is not None and high is not None:
            return f"{low} to {high}"
        return f"at least {low}" if low is not None else f"at most {high}"

    def number(self, value: Any) -> float:
        """The figure the range applies to."""
        return value.total_seconds() if isinstance(value, timedelta) else value

    def in_range(self, value: Any) -> bool:
        n = self.number(value)
        if self.low is not None and (n <= self.low if self.low_open else n < self.low):
            return False
        return self.high is None or n <= self.high


def key(default: Any, help: str, *, kind: str | None = None, low: float | None = None,
        high: float | None = None, above: float | None = None,
        not_above: str | None = None) -> Any:
    """A dataclass field carrying its default and its :class:`Key`.

    ``low``/``high`` are inclusive bounds, ``above`` an exclusive lower bound;
    durations are given in seconds. ``kind`` defaults to the default's type
    (text and path keys name theirs: header, path, zone).
    """
    kind = kind or _KIND_OF[type(default)]
    spec = Key(help=help, kind=kind, low=above if above is not None else low, high=high,
               low_open=above is not None, not_above=not_above)
    return field(default=default, metadata={"key": spec})


def check(spec: Key, value: Any, name: str, file: str | None) -> Any:
    """``value`` converted to the key's type, or ConfigError naming file, key and range."""
    converted = _PARSERS[spec.kind](value, spec, name, file)
    if (spec.low is not None or spec.high is not None) and not spec.in_range(converted):
        raise ConfigError(f"{shown(value)} is out of range; allowed: {spec.allowed()}",
                          file=file, key=name)
    return converted


def render(spec: Key, value: Any) -> str:
    """``value`` as defaults.yaml writes it."""
    if spec.kind == "bool":
        return "true" if value else "false"
    if spec.kind in ("seconds", "duration"):
        return format_duration(spec.number(value))
    if spec.kind == "time":
        return f'"{value:%H:%M}"'
    if spec.kind in ("header", "path", "url"):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def parse_duration(value: Any, *, key: str, file: str | None = None) -> timedelta:
    """``30m``, ``45s``, ``2h``, ``1d`` or a number of seconds; positive, at most ten years."""
    allowed = f"more than 0s, at most {format_duration(LONGEST)}"
    seconds = _seconds(value, key, file, allowed)
    if not 0 < seconds <= LONGEST:
        raise ConfigError(f"{shown(value)} is out of range; allowed: {allowed}", file=file,
                          key=key)
    return timedelta(seconds=seconds)


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 600 -> 10m, 86400 -> 1d, 1.5 -> 1.5s."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1)):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def shown(value: Any) -> str:
    """``repr`` cut short: a value in an error message is one line, not a page."""
    if value is None:
        return "an empty value"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _seconds(value: Any, name: str, file: str | None, allowed: str) -> float:
    """A duration's seconds: finite, but not yet range-checked."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if isinstance(value, bool) or not (m or isinstance(value, (int, float))):
        raise ConfigError(f"{shown(value)} is not a duration; use a number with s, m, h or d "
                          f"(30m, 45s, 2h); allowed: {allowed}", file=file, key=name)
    seconds = _finite(m.group(1)) * _UNITS[m.group(2)] if m else _finite(value)
    if not math.isfinite(seconds):
        raise ConfigError(f"{shown(value)} is not a finite duration; allowed: {allowed}",
                          file=file, key=name)
    return seconds


def _finite(value: int | float | str) -> float:
    """float(value), with numbers too large for a float as infinity (not OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _bool(value, spec, name, file):
    if not isinstance(value, bool):
        raise ConfigError(f"{shown(value)} is not true or false", file=file, key=name)
    return value


def _int(value, spec, name, file):
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{shown(value)} is not a whole number; allowed: {spec.allowed()}",
                          file=file, key=name)
    return value


def _float(value, spec, name, file):
    number = None if isinstance(value, bool) or not isinstance(value, (int, float)) \
        else _finite(value)
    if number is None or not math.isfinite(number):
        raise ConfigError(f"{shown(value)} is not a finite number; allowed: {spec.allowed()}",
                          file=file, key=name)
    return number


def _duration(value, spec, name, file):
    seconds = _seconds(value, name, file, spec.allowed())
    if not spec.in_range(seconds):          # before timedelta(): 99999999999d overflows it
        raise ConfigError(f"{shown(value)} is out of range; allowed: {spec.allowed()}",
                          file=file, key=name)
    return seconds if spec.kind == "seconds" else timedelta(seconds=seconds)


def _header(value, spec, name, file):
    if not isinstance(value, str) or not _HEADER.match(value) or len(value) > _MAX_TEXT:
        raise ConfigError(f"{shown(value)} is not a valid header value; allowed: "
                          f"{spec.allowed()}", file=file, key=name)
    return value


def _url(value, spec, name, file):
    parts = urlsplit(value) if isinstance(value, str) and _HEADER.match(value) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
            or len(value) > _MAX_TEXT:
        raise ConfigError(f"{shown(value)} is not an http(s) URL; allowed: {spec.allowed()}",
                          file=file, key=name)
    return value


def _path(value, spec, name, file):
    if not isinstance(value, str) or not value.strip() or _CONTROL.search(value) \
            or len(value) > _MAX_TEXT:
        raise ConfigError(f"{shown(value)} is not a folder name; allowed: {spec.allowed()}",
                          file=file, key=name)
    return Path(value)


def _time(value, spec, name, file):
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 07:00 as the sexagesimal number 420
        value = f"{value // 60:02d}:{value % 60:02d}"
    m = re.match(r"^\s*(\d{1,2}):(\d{2})\s*$", value) if isinstance(value, str) else None
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"{shown(value)} is not a time of day; use HH:MM (00:00 to 23:59)",
                          file=file, key=name)
    return dtime(int(m.group(1)), int(m.group(2)))


def _zone(value, spec, name, file):
    zone = value.strip() if isinstance(value, str) else ""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"{shown(value)} is not {spec.allowed()}", file=file,
                          key=name) from None
    return zone


_PARSERS: dict[str, Callable[[Any, Key, str, str | None], Any]] = {
    "bool": _bool, "int": _int, "float": _float, "seconds": _duration,
    "duration": _duration, "header": _header, "path": _path, "time": _time, "zone": _zone,
    "url": _url}
_DESCRIPTIONS = {
    "bool": "true or false",
    "header": f"one line of printable ASCII, at most {_MAX_TEXT} characters",
    "path": f"a folder name, no control characters, at most {_MAX_TEXT} characters",
    "time": "HH:MM from 00:00 to 23:59, quoted",
    "zone": "an IANA time zone name such as Europe/London or UTC",
    "url": f"an http(s) URL of printable ASCII, at most {_MAX_TEXT} characters",
}
_KIND_OF = {bool: "bool", int: "int", float: "float", timedelta: "duration", dtime: "time"}

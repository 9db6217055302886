"""Configuration as small validated value objects.

Defaults ship with the package (``pipeline/defaults.yaml``); the user's YAML
(``config/watch.yaml``) overrides only the keys it sets. The file is loaded
and validated once, at the CLI edge, by :func:`load_settings`; each stage then
gets only its part (``settings.network`` for fetch, ``settings.dedupe`` …).
Every error is a :class:`ConfigError` naming the file, the key and the
allowed values. Nothing here reads the environment at import time: the
environment is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from pipeline.match import rules
from pipeline.errors import ConfigError

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
DEFAULT_CONFIG = Path("config/watch.yaml")
DEFAULT_DATABASE_URL = "sqlite:///data/newswatch.db"
DEFAULT_OUTPUT_DIR = "output"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


@dataclass(frozen=True)
class FeedSpec:
    name: str
    url: str


@dataclass(frozen=True)
class NetworkConfig:
    """What the fetch stage needs."""

    allow_private_addresses: bool = False
    connect_timeout: float = 10.0        # seconds to open a connection
    read_timeout: float = 20.0           # seconds between two reads
    deadline: float = 60.0               # seconds for a whole request, every byte included
    max_bytes: int = 5_000_000           # cap on a body, counted after decompression
    max_redirects: int = 5
    user_agent: str = "Newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitoring)"
    max_connections: int = 24            # requests in flight, all hosts together
    max_per_host: int = 4                # requests in flight to one host
    backoff_base: float = 300.0          # seconds; doubled per consecutive failure
    backoff_max: float = 86400.0


@dataclass(frozen=True)
class DedupeConfig:
    """What the dedupe stage needs. Figures from bench/dedupe_eval.py (181 real
    articles: 1,267 copies, 540 non-copies) and bench/dedupe_scale.py; see pipeline/dedupe.py."""

    shingle_size: int = 5             # words per shingle: 5 keeps shared stock phrases rare
    sketch_size: int = 256            # smallest shingle hashes kept per text (~1 KB stored)
    lsh_keys: int = 32                # of those, how many are index keys (finds copies cut to 1/10)
    max_postings: int = 64            # oldest items read per key (boilerplate costs no more)
    max_candidates: int = 32          # candidates verified per decision (keeps it flat in N)
    min_shared_keys: int = 3          # keys a candidate must share: copies share ~10-30 of 32; 3 loses no recall and keeps 100k within 1.5x of 1k
    # share of the new text found in a stored one at or above which it is a copy.
    # Measured: different articles sharing 2-4 quoted sentences reach 0.40; all but 6
    # of 1,267 copies are >= 0.6. Sweep: 0.5 -> 1 false match; 0.6 -> precision 1.000,
    # recall 0.995; 0.7 -> recall 0.989 (bench/dedupe_eval.py --sweep).
    containment: float = 0.6
    # a stored text inside a longer new page is a copy only if it is this share of the page
    embedded_share: float = 0.5
    min_words: int = 30               # shorter texts are only compared by URL (too few shingles)
    story_window_hours: float = 72.0
    story_similarity: float = 0.4     # rarity-weighted share of the shorter title's words
    story_text_overlap: float = 0.05  # shared shingles (quotes, wire lines) that make one story


@dataclass(frozen=True)
class ExtractConfig:
    workers: int = 0                  # 0: one per core
    # recycle workers now and then: lxml can leak under long runs. Measured here a
    # worker grows 108 -> 128 MB over its first 200 pages, then stays at 129 MB to
    # 1,200; a fresh worker is ~15% slower for its first pages, so recycle rarely
    max_tasks_per_child: int = 1000
    favor_precision: bool = False
    include_comments: bool = False


@dataclass(frozen=True)
class WebConfig:
    """The reading room (pipeline/web): served by ``newswatch serve``, and inside
    ``newswatch run`` when ``port`` is set. Away from loopback a token is required."""

    host: str = "127.0.0.1"
    port: int | None = None
    token: str | None = field(default=None, repr=False)   # NEWSWATCH_WEB_TOKEN wins

    @property
    def needs_token(self) -> bool:
        return not _is_loopback(self.host)


@dataclass(frozen=True)
class Settings:
    feeds: tuple[FeedSpec, ...]
    topic: rules.Rule
    alerts: tuple[rules.Rule, ...]
    network: NetworkConfig = field(default_factory=NetworkConfig)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    poll_interval: timedelta = timedelta(minutes=30)
    digest_time: dtime = dtime(7, 0)
    timezone: str = "UTC"
    seeds_dir: Path = Path("seeds")
    database_url: str = DEFAULT_DATABASE_URL
    output_dir: Path = Path(DEFAULT_OUTPUT_DIR)
    config_file: Path | None = None
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_duration(value: Any, *, key: str, file: str | None = None) -> timedelta:
    """``30m``, ``45s``, ``2h``, ``1d`` or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError("expected a duration such as 30m, 45s, 2h", file=file, key=key)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(f"{value!r} is not a duration; use a number with s, m, h or d "
                              "(30m, 45s, 2h)", file=file, key=key)
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ConfigError("a duration must be positive", file=file, key=key)
    return timedelta(seconds=seconds)


def load_settings(path: str | Path | None = None, *, env: Mapping[str, str] | None = None
                  ) -> Settings:
    """Read defaults, overlay the user's file, validate, return Settings.

    ``env`` is the process environment as the CLI passes it (``DATABASE_URL``,
    ``NEWSWATCH_OUTPUT_DIR``); nothing else reads it.
    """
    env = env or {}
    path = Path(path) if path else DEFAULT_CONFIG
    file = str(path)
    defaults = _read_yaml(DEFAULTS_FILE)
    try:
        user = _read_yaml(path)
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    raw = _overlay(defaults, user)
    return settings_from_mapping(raw, file=file, env=env, base_dir=path.resolve().parent)


def settings_from_mapping(raw: Mapping[str, Any], *, file: str | None = None,
                          env: Mapping[str, str] | None = None,
                          base_dir: Path | None = None) -> Settings:
    env = env or {}
    known = {"feeds", "topic", "alerts", "variants", "network", "dedupe", "extract",
             "poll_interval", "digest_time", "timezone", "seeds_dir", "web"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown key; allowed keys are {', '.join(sorted(known))}",
                          file=file, key=unknown[0])
    topic, alerts = rules.parse_rule_set(raw.get("topic"), raw.get("alerts") or [],
                                         raw.get("variants") or {}, file=file)
    seeds_dir = Path(str(raw.get("seeds_dir") or "seeds"))
    if not seeds_dir.is_absolute() and base_dir is not None and not seeds_dir.exists():
        # config/watch.yaml names "seeds" relative to the project, not to config/
        seeds_dir = (base_dir.parent / seeds_dir)
    return Settings(
        feeds=_parse_feeds(raw.get("feeds"), file),
        topic=topic,
        alerts=alerts,
        network=_section(NetworkConfig, raw.get("network"), "network", file),
        dedupe=_section(DedupeConfig, raw.get("dedupe"), "dedupe", file),
        extract=_section(ExtractConfig, raw.get("extract"), "extract", file),
        poll_interval=parse_duration(raw.get("poll_interval", "30m"), key="poll_interval",
                                     file=file),
        digest_time=_parse_time(raw.get("digest_time", "07:00"), file),
        timezone=_parse_timezone(raw.get("timezone", "UTC"), file),
        seeds_dir=seeds_dir,
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        output_dir=Path(env.get("NEWSWATCH_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR),
        config_file=Path(file) if file else None,
        web=_parse_web(raw.get("web"), file, env),
    )


def _read_yaml(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML{where}: {problem}", file=str(path)) from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError("the top level must be a mapping of keys", file=str(path))
    return doc


def _overlay(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict:
    """Mappings merge key by key; anything else in ``over`` replaces ``base``."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = _overlay(base[key], value)
        else:
            merged[key] = value
    return merged


def _parse_feeds(raw: Any, file: str | None) -> tuple[FeedSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("a non-empty list of {name, url} is required", file=file, key="feeds")
    feeds, urls = [], set()
    for i, item in enumerate(raw):
        key = f"feeds[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError("each feed is a mapping with name and url", file=file, key=key)
        extra = set(item) - {"name", "url"}
        if extra:
            raise ConfigError(f"unknown key {sorted(extra)[0]!r}; allowed: name, url",
                              file=file, key=key)
        url = str(item.get("url") or "").strip()
        if not re.match(r"^https?://[^/\s]+", url, re.I):
            raise ConfigError(f"url {url!r} must be an http:// or https:// URL",
                              file=file, key=f"{key}.url")
        if url in urls:
            raise ConfigError(f"url {url!r} is listed twice", file=file, key=f"{key}.url")
        urls.add(url)
        name = str(item.get("name") or "").strip() or url
        feeds.append(FeedSpec(name=name, url=url))
    return tuple(feeds)


def _section(cls, raw: Any, key: str, file: str | None):
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a mapping", file=file, key=key)
    allowed = {f.name: f for f in fields(cls)}
    values = {}
    for name, value in raw.items():
        if name not in allowed:
            raise ConfigError(f"unknown key; allowed: {', '.join(allowed)}",
                              file=file, key=f"{key}.{name}")
        values[name] = _coerce(value, allowed[name].default, f"{key}.{name}", file)
    return cls(**values)


def _coerce(value: Any, default: Any, key: str, file: str | None) -> Any:
    """Check a value against the type of its default (bool, int, float, str)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{value!r} is not true or false", file=file, key=key)
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, str) and isinstance(default, float) and _DURATION.match(value):
            return parse_duration(value, key=key, file=file).total_seconds()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{value!r} is not a number", file=file, key=key)
        if value < 0:
            raise ConfigError(f"{value!r} must not be negative", file=file, key=key)
        return type(default)(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{value!r} must be a non-empty string", file=file, key=key)
    return value


def _parse_time(raw: Any, file: str | None) -> dtime:
    if isinstance(raw, int) and not isinstance(raw, bool):
        # YAML 1.1 reads an unquoted 07:00 as the sexagesimal number 420
        raw = f"{raw // 60:02d}:{raw % 60:02d}"
    m = re.match(r"^\s*(\d{1,2}):(\d{2})\s*$", str(raw))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"{raw!r} is not a time of day; use HH:MM (00:00 to 23:59)",
                          file=file, key="digest_time")
    return dtime(int(m.group(1)), int(m.group(2)))


def _parse_timezone(raw: Any, file: str | None) -> str:
    name = str(raw).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name!r} is not an IANA time zone name such as Europe/London or UTC",
                          file=file, key="timezone") from None
    return name


MIN_TOKEN_LENGTH = 16


def _parse_web(raw: Any, file: str | None, env: Mapping[str, str]) -> WebConfig:
    """``web: {host, port, token}``; the environment (NEWSWATCH_WEB_HOST, _PORT,
    _TOKEN, or _TOKEN_FILE for a Docker secret) overrides the file, so one
    config serves on a laptop (loopback) and in a container (0.0.0.0)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a mapping with host, port, token", file=file, key="web")
    unknown = sorted(set(raw) - {"host", "port", "token"})
    if unknown:
        raise ConfigError("unknown key; allowed: host, port, token", file=file,
                          key=f"web.{unknown[0]}")
    host = str(env.get("NEWSWATCH_WEB_HOST") or raw.get("host") or "127.0.0.1").strip()
    port = env.get("NEWSWATCH_WEB_PORT") or raw.get("port")
    if port is not None:
        if isinstance(port, str) and port.strip().isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{port!r} is not a port number (1 to 65535)", file=file,
                              key="web.port")
    token = env.get("NEWSWATCH_WEB_TOKEN") or _token_file(env) or raw.get("token")
    if token is not None:
        token = str(token).strip()
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(f"the token must be at least {MIN_TOKEN_LENGTH} characters "
                              "(python3 -c 'import secrets; print(secrets.token_urlsafe())')",
                              file=file, key="web.token")
    web = WebConfig(host=host, port=port, token=token)
    if web.needs_token and not token:
        raise ConfigError(f"serving on {host} (not loopback) requires web.token or "
                          "NEWSWATCH_WEB_TOKEN", file=file, key="web.token")
    return web


def _token_file(env: Mapping[str, str]) -> str | None:
    path = env.get("NEWSWATCH_WEB_TOKEN_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read NEWSWATCH_WEB_TOKEN_FILE {path}: {exc.strerror}",
                          key="web.token") from exc


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

"""Configuration as small validated value objects, declared once.

Each section is a frozen dataclass whose fields are declared with
:func:`~pipeline.configkeys.key`: default, one-line help and allowed range
together. That declaration is the schema: :func:`load_settings` checks the
user's YAML (``config/watch.yaml``) against it, keys the file does not set
take its defaults, and ``pipeline/defaults.yaml`` is generated from it
(:func:`render_defaults`; a test checks the committed file is the same).
The file is loaded and validated once, at the CLI edge; each stage then gets
only its part (``settings.network`` for fetch, ``settings.dedupe`` ...).
Every error is a :class:`ConfigError` naming the file, the key and the
allowed values. Nothing here reads the environment at import time: the
environment is passed in.

Dataclasses rather than pydantic: the checks that matter here (durations
written ``30m``, HH:MM read back from YAML's sexagesimal numbers, header
values, the rule language) are our own code either way, and pydantic would add
~50 ms to every ``check-config`` and ``test-rules`` start (measured:
``import pipeline.config`` 125 ms, with pydantic's BaseModel 177 ms).
"""

from __future__ import annotations

import re
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from pipeline import safeyaml
from pipeline.configkeys import (MINUTE, YEAR, Key, check, key,
                                 parse_duration, render, shown)
from pipeline.deliver.options import DeliveryConfig, parse_delivery
from pipeline.match.people import Person, parse_people, with_people
from pipeline.web.options import WebConfig, parse_web
from pipeline.errors import ConfigError
from pipeline.match import rules
from pipeline.sections import (BriefingConfig, DedupeConfig, ExtractConfig, GoogleNewsConfig,
                               HistoryConfig, LimitsConfig, NetworkConfig)

__all__ = ["FeedSpec", "NetworkConfig", "DedupeConfig", "ExtractConfig", "LimitsConfig",
           "Settings", "load_settings", "settings_from_mapping", "parse_duration",
           "render_defaults", "schema"]

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
DEFAULT_CONFIG = Path("config/watch.yaml")
DEFAULT_DATABASE_URL = "sqlite:///data/newswatch.db"
DEFAULT_OUTPUT_DIR = "output"
# Lowers poll_interval's minimum (never below 1s): for tests and for trying a
# config against a local feed server, never needed against real sites.
MIN_POLL_ENV = "NEWSWATCH_MIN_POLL_INTERVAL"
# The top-level keys in the rule language, checked by their own parsers
# (pipeline.match.rules, _parse_feeds), not by a Key.
# checked by their own parsers: the rule language (match.rules, match.people),
# delivery (deliver.options) and the reading room (web.options)
RULE_KEYS = ("feeds", "topic", "alerts", "variants", "people", "delivery", "web")
_MAX_FEED_TEXT = 4096


@dataclass(frozen=True)
class FeedSpec:
    name: str
    url: str


@dataclass(frozen=True)
class Settings:
    feeds: tuple[FeedSpec, ...]
    topic: rules.Rule
    alerts: tuple[rules.Rule, ...]
    network: NetworkConfig = field(default_factory=NetworkConfig)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    briefing: BriefingConfig = field(default_factory=BriefingConfig)
    google_news: GoogleNewsConfig = field(default_factory=GoogleNewsConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    poll_interval: timedelta = key(timedelta(minutes=30), "how often every feed is polled",
                                   low=MINUTE, high=YEAR)
    digest_time: dtime = key(dtime(7, 0), "when the daily digest is written")
    timezone: str = key("UTC", "the zone of digest_time and of dates in the digest",
                        kind="zone")
    seeds_dir: Path = key(Path("seeds"), "folder of known reports: copies of them are not "
                          "news (relative to the project)", kind="path")
    database_url: str = DEFAULT_DATABASE_URL
    output_dir: Path = Path(DEFAULT_OUTPUT_DIR)
    config_file: Path | None = None
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    people: tuple[Person, ...] = ()     # also the first alert rules (see match/people.py)
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _is_section(f: Field) -> bool:
    """A section of plain keys (network, dedupe ...): a dataclass declared with key().
    A part in the rule language (feeds, topic ...) is parsed by its own code instead."""
    cls = f.default_factory
    return cls is not MISSING and is_dataclass(cls) and \
        all("key" in sub.metadata for sub in fields(cls))


def schema() -> dict[str, Key | dict[str, Key]]:
    """Every key the YAML may set: top-level keys map to their Key, sections to
    {key: Key}. The rule-language keys (RULE_KEYS) are checked by match.rules."""
    out: dict[str, Key | dict[str, Key]] = {}
    for f in fields(Settings):
        if _is_section(f):
            out[f.name] = {s.name: s.metadata["key"] for s in fields(f.default_factory)}
        elif "key" in f.metadata:
            out[f.name] = f.metadata["key"]
    return out


def load_settings(path: str | Path | None = None, *, env: Mapping[str, str] | None = None
                  ) -> Settings:
    """Read the user's file, check it against the schema, return Settings.

    ``env`` is the process environment as the CLI passes it (``DATABASE_URL``,
    ``NEWSWATCH_OUTPUT_DIR``, ``NEWSWATCH_MIN_POLL_INTERVAL``); nothing else reads it.
    """
    path = Path(path) if path else DEFAULT_CONFIG
    file = str(path)
    try:
        user = safeyaml.load_mapping(path)
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    return settings_from_mapping(user, file=file, env=env, base_dir=path.resolve().parent)


def settings_from_mapping(raw: Mapping[str, Any], *, file: str | None = None,
                          env: Mapping[str, str] | None = None,
                          base_dir: Path | None = None) -> Settings:
    """Settings from a parsed config: keys not in ``raw`` take the schema's defaults."""
    env = env or {}
    keys = schema()
    known = sorted({*RULE_KEYS, *keys})
    for name in raw:
        if name not in keys and name not in RULE_KEYS:
            raise ConfigError(f"unknown key; allowed keys are {', '.join(known)}",
                              file=file, key=str(name))
    topic, alerts = rules.parse_rule_set(raw.get("topic"), raw.get("alerts") or [],
                                         raw.get("variants") or {}, file=file)
    people = parse_people(raw.get("people"), file=file)
    alerts = with_people(people, alerts, file=file)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if _is_section(f):
            values[f.name] = _section(f.default_factory, raw.get(f.name), f.name, file)
        elif "key" in f.metadata and f.name in raw:
            spec = _poll_spec(f.metadata["key"], env) if f.name == "poll_interval" \
                else f.metadata["key"]
            values[f.name] = check(spec, raw[f.name], f.name, file)
    seeds_dir = _resolve_seeds(values.get("seeds_dir", Settings.seeds_dir), base_dir)
    return Settings(
        feeds=_parse_feeds(raw.get("feeds"), file), topic=topic, alerts=alerts,
        **{**values, "seeds_dir": seeds_dir},
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        output_dir=Path(env.get("NEWSWATCH_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR),
        config_file=Path(file) if file else None,
        delivery=parse_delivery(raw.get("delivery"), raw.get("alerts"), env=env, file=file),
        people=people,
        web=parse_web(raw.get("web"), file, env),
    )


def _poll_spec(spec: Key, env: Mapping[str, str]) -> Key:
    """poll_interval's Key, its minimum lowered by NEWSWATCH_MIN_POLL_INTERVAL."""
    if not env.get(MIN_POLL_ENV):
        return spec
    lowest = check(Key("", "duration", low=1, high=spec.low), env[MIN_POLL_ENV],
                   MIN_POLL_ENV, "the environment")
    return replace(spec, low=lowest.total_seconds())


def _resolve_seeds(seeds_dir: Path, base_dir: Path | None) -> Path:
    """config/watch.yaml names "seeds" relative to the project, not to config/."""
    try:
        here = seeds_dir.exists()
    except OSError:            # a name too long for the file system: let the seed check say so
        return seeds_dir
    if not seeds_dir.is_absolute() and base_dir is not None and not here:
        return base_dir.parent / seeds_dir
    return seeds_dir


def _section(cls, raw: Any, name: str, file: str | None):
    if raw is None:
        return cls()
    specs = {f.name: f.metadata["key"] for f in fields(cls)}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"must be a mapping of keys; allowed: {', '.join(specs)}",
                          file=file, key=name)
    values = {}
    for sub, value in raw.items():
        if sub not in specs:
            raise ConfigError(f"unknown key; allowed: {', '.join(specs)}",
                              file=file, key=f"{name}.{sub}")
        values[sub] = check(specs[sub], value, f"{name}.{sub}", file)
    section = cls(**values)
    for sub, spec in specs.items():
        if spec.not_above and getattr(section, sub) > getattr(section, spec.not_above):
            raise ConfigError(
                f"{shown(getattr(section, sub))} is more than {name}.{spec.not_above} "
                f"({shown(getattr(section, spec.not_above))}); allowed: at most "
                f"{name}.{spec.not_above}",
                file=file, key=f"{name}.{sub}")
    return section


def _parse_feeds(raw: Any, file: str | None) -> tuple[FeedSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("a non-empty list of {name, url} is required", file=file, key="feeds")
    feeds, urls = [], set()
    for i, item in enumerate(raw):
        key = f"feeds[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError("each feed is a mapping with name and url", file=file, key=key)
        extra = sorted(str(k) for k in set(item) - {"name", "url"})
        if extra:
            raise ConfigError(f"unknown key {extra[0]!r}; allowed: name, url",
                              file=file, key=key)
        url = _feed_text(item.get("url"), f"{key}.url", file).strip()
        if not re.match(r"^https?://[^/\s]+\S*$", url, re.I):
            raise ConfigError(f"url {shown(url)} must be an http:// or https:// URL without "
                              "spaces", file=file, key=f"{key}.url")
        if url in urls:
            raise ConfigError(f"url {shown(url)} is listed twice", file=file, key=f"{key}.url")
        urls.add(url)
        name = _feed_text(item.get("name"), f"{key}.name", file).strip() or url
        feeds.append(FeedSpec(name=name, url=url))
    return tuple(feeds)


def _feed_text(value: Any, name: str, file: str | None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > _MAX_FEED_TEXT \
            or re.search(r"[\x00-\x1f\x7f]", value):
        raise ConfigError(f"{shown(value)} must be one line of text, at most "
                          f"{_MAX_FEED_TEXT} characters", file=file, key=name)
    return value


def render_defaults() -> str:
    """The text of ``pipeline/defaults.yaml``: every key, its default, help and range."""
    lines = ["# Newswatch's built-in defaults: every key the config may set besides the",
             "# rules (feeds, topic, alerts, variants), with its default and allowed range.",
             "# The user's config (config/watch.yaml) overrides only the keys it sets.",
             "# GENERATED from the schema in pipeline/config.py; do not edit, regenerate:",
             "#   python -m pipeline.config > pipeline/defaults.yaml", ""]
    sections = []
    for f in fields(Settings):
        if _is_section(f):
            sections.append(f)
        elif "key" in f.metadata:
            lines += _rendered(f.name, f.metadata["key"], f.default, "")
    for f in sections:
        lines += ["", f"{f.name}:"]
        for sub in fields(f.default_factory):
            lines += _rendered(sub.name, sub.metadata["key"], sub.default, "  ")
    return "\n".join(lines) + "\n"


def _rendered(name: str, spec: Key, default: Any, indent: str) -> list[str]:
    said = f"{indent}# {spec.help} ({spec.allowed()})"
    if len(said) > 92:
        said = f"{indent}# {spec.help}\n{indent}#   allowed: {spec.allowed()}"
    return [*said.split("\n"), f"{indent}{name}: {render(spec, default)}"]


if __name__ == "__main__":
    print(render_defaults(), end="")

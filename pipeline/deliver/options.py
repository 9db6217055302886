"""The ``delivery`` section of the config, and each alert rule's ``notify``.

    delivery:
      digest: ["mailtos://user:${SMTP_PASSWORD}@smtp.example.org?to=team@example.org"]
      alerts: ["ntfys://ntfy.example.org/detainees"]
      group_above: 3        # a cycle with more new alerts than this sends one message
      max_attempts: 6       # tries of one message; a channel failing this often is reported
      retry_after: 1m       # wait after the first failure, doubled per failure (capped at 6h)
    alerts:
      - name: Sednaya prison
        notify: ["tgram://${TG_TOKEN}/${TG_CHAT}"]   # extra channels for this rule only
        any: ["{Sednaya}"]

``${NAME}`` is read from the environment, or from the file that ``NAME_FILE``
names (as Docker secrets do); ``$$`` is a plain ``$``. A variable that is not
set is a config error that names it. The URLs with their secrets live only in
memory: what is shown or stored is :func:`pipeline.redact.redact_channel`'s
form and a hash. Parsed here rather than in ``pipeline.config`` so that the
config module only calls :func:`parse_delivery`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from pipeline.errors import ConfigError
from pipeline.redact import redact_channel

_PLACEHOLDER = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
KEYS = ("digest", "alerts", "group_above", "max_attempts", "retry_after")


@dataclass(frozen=True)
class Channel:
    """One notification URL. ``id`` hashes the URL as written in the config
    (before ``${NAME}`` is filled in), so it stays the same when a secret is
    rotated and holds no secret that was passed as a variable."""

    id: str
    shown: str                                               # redacted, with the id's start
    url: str = field(repr=False)                             # secrets filled in: never shown
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class DeliveryConfig:
    digest: tuple[Channel, ...] = ()
    alerts: tuple[Channel, ...] = ()
    notify: tuple[tuple[str, tuple[Channel, ...]], ...] = ()   # (rule name, its channels)
    group_above: int = 3
    max_attempts: int = 6
    retry_after: float = 60.0                                # seconds, doubled per failure
    retry_max: float = 6 * 3600.0

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Every configured channel once, in config order."""
        seen: dict[str, Channel] = {}
        for c in (*self.digest, *self.alerts, *(c for _, cs in self.notify for c in cs)):
            seen.setdefault(c.id, c)
        return tuple(seen.values())

    def alert_channels(self, rules: tuple[str, ...] | list[str]) -> tuple[Channel, ...]:
        """Where an item that raised these rules is announced."""
        extra = dict(self.notify)
        seen: dict[str, Channel] = {c.id: c for c in self.alerts}
        for rule in rules:
            for c in extra.get(rule, ()):
                seen.setdefault(c.id, c)
        return tuple(seen.values())


def parse_delivery(raw: Any, alerts_raw: Any = None, *, env: Mapping[str, str],
                   file: str | None = None) -> DeliveryConfig:
    """The ``delivery`` mapping (None: nothing is delivered) and the ``notify``
    lists of the raw ``alerts`` entries."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a mapping with digest and alerts", file=file, key="delivery")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key; allowed: {', '.join(KEYS)}", file=file,
                          key=f"delivery.{unknown[0]}")
    notify = []
    for i, entry in enumerate(alerts_raw if isinstance(alerts_raw, list) else []):
        if isinstance(entry, Mapping) and entry.get("notify") is not None:
            name = str(entry.get("name") or "").strip()
            notify.append((name, _channels(entry["notify"], f"alerts[{i}].notify", env, file)))
    return DeliveryConfig(
        digest=_channels(raw.get("digest") or [], "delivery.digest", env, file),
        alerts=_channels(raw.get("alerts") or [], "delivery.alerts", env, file),
        notify=tuple(notify),
        group_above=_whole(raw.get("group_above", 3), "delivery.group_above", file, low=0),
        max_attempts=_whole(raw.get("max_attempts", 6), "delivery.max_attempts", file, low=1),
        retry_after=_seconds(raw.get("retry_after", 60), "delivery.retry_after", file),
    )


def _channels(raw: Any, key: str, env: Mapping[str, str], file: str | None
              ) -> tuple[Channel, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError("must be a list of notification URLs", file=file, key=key)
    out = []
    for i, template in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(template, str) or "://" not in template:
            raise ConfigError("must be a notification URL such as mailtos://… or "
                              "ntfys://… (see the Apprise documentation)", file=file, key=where)
        url, secrets = expand_secrets(template.strip(), env, key=where, file=file)
        ident = hashlib.sha256(template.strip().encode("utf-8")).hexdigest()[:16]
        channel = Channel(id=ident, shown=f"{redact_channel(url)} #{ident[:6]}", url=url,
                          secrets=secrets)
        _check_known(channel, where, file)
        out.append(channel)
    return tuple(out)


def expand_secrets(template: str, env: Mapping[str, str], *, key: str,
                   file: str | None = None) -> tuple[str, tuple[str, ...]]:
    """``template`` with each ``${NAME}`` filled in, and the values used.

    A value that lands in the URL's userinfo (``user:${PASSWORD}@host``) is
    percent-encoded, so a password with ``@``, ``/`` or ``:`` keeps the URL
    whole (Apprise decodes it); elsewhere (tokens, chat ids) it goes in as is.
    """
    userinfo_end = _userinfo_end(template)
    secrets: list[str] = []

    def fill(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        value = _lookup(m.group(1), env, key, file)
        secrets.append(value)
        return quote(value, safe="") if m.start() < userinfo_end else value

    return _PLACEHOLDER.sub(fill, template), tuple(s for s in secrets if s)


def _userinfo_end(template: str) -> int:
    """Index of the ``@`` that ends the userinfo, or -1 without one."""
    start = template.find("://")
    if start < 0:
        return -1
    authority_end = len(template)
    for mark in "/?#":
        i = template.find(mark, start + 3)
        if i >= 0:
            authority_end = min(authority_end, i)
    return template.rfind("@", start + 3, authority_end)


def _lookup(name: str, env: Mapping[str, str], key: str, file: str | None) -> str:
    if name in env:
        return env[name]
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"${{{name}}}: cannot read {name}_FILE {path}: "
                              f"{getattr(exc, 'strerror', None) or exc}",
                              file=file, key=key) from None
    raise ConfigError(f"${{{name}}} is not set: set the environment variable {name} "
                      f"(or {name}_FILE to a file holding it)", file=file, key=key)


def _check_known(channel: Channel, key: str, file: str | None) -> None:
    """Apprise must understand the URL; said now rather than at 7 a.m."""
    from pipeline.deliver.channels import unknown_reason

    reason = unknown_reason(channel)
    if reason:
        raise ConfigError(f"{channel.shown}: {reason}", file=file, key=key)


def _whole(value: Any, key: str, file: str | None, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{value!r} must be a whole number >= {low}", file=file, key=key)
    return value


def _seconds(value: Any, key: str, file: str | None) -> float:
    from pipeline.config import parse_duration   # config imports this module

    return parse_duration(value, key=key, file=file).total_seconds()

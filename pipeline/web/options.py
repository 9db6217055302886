"""The reading room's config: ``web: {host, port, token}``, with the environment
(NEWSWATCH_WEB_HOST, _PORT, _TOKEN, _TOKEN_FILE) overriding the file; parsed once at
the edge by ``pipeline.config`` like the rule language and delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import ConfigError


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



MIN_TOKEN_LENGTH = 16


def parse_web(raw: Any, file: str | None, env: Mapping[str, str]) -> WebConfig:
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

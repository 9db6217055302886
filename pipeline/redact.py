"""Secrets out of what is shown: every message, log line, digest and page
shows ``redact_url(url)`` instead of a URL (no user:password@, secret-looking
query values as ***), and ``redact_channel(url)`` instead of a notification
URL. Shared by every stage, so it imports nothing of theirs."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

_SECRET_WORDS = frozenset({
    "token", "key", "apikey", "password", "passwd", "pwd", "secret", "sig", "signature",
    "auth", "authorization", "credential", "credentials", "session", "sessionid",
})
_SECRET_NAMES = frozenset({"api_key", "access_token", "refresh_token", "id_token",
                           "client_secret", "x-amz-signature", "x-amz-credential"})


def _is_secret_name(name: str) -> bool:
    lowered = name.strip().lower()
    if lowered in _SECRET_NAMES or lowered in _SECRET_WORDS:
        return True
    # auth_token, client-secret, X-Goog-Signature …: judge each word of the name.
    return any(part in _SECRET_WORDS for part in re.split(r"[_\-.\[\]]+", lowered))


def _redact_params(text: str) -> str:
    """name=value pairs joined by & or ;, with secret values replaced, rest untouched."""
    def one(pair: str) -> str:
        name, eq, _value = pair.partition("=")
        return f"{name}=***" if eq and _is_secret_name(name) else pair
    return re.sub(r"[^&;]+", lambda m: one(m.group(0)), text)


def redact_url(url: str) -> str:
    """``url`` safe to print: no user:password@, secret-looking query values as ***."""
    text = str(url)
    try:
        parts = urlsplit(text)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, _redact_params(parts.query),
                           _redact_params(parts.fragment) if "=" in parts.fragment
                           else parts.fragment))
    except ValueError:
        # Unparseable (e.g. a broken IPv6 literal): strip the same parts by pattern.
        text = re.sub(r"(//)[^/?#]*@", r"\1", text)
        head, sep, query = text.partition("?")
        return head + sep + _redact_params(query) if sep else text


def redact_text(text: str) -> str:
    """Every URL inside a free text (an error message) redacted."""
    return re.sub(r"https?://[^\s)]+", lambda m: redact_url(m.group(0)), text)


def redact_channel(url: str) -> str:
    """A notification URL (Apprise's ``mailtos://user:pass@host?to=…``,
    ``tgram://TOKEN/CHAT``, ``ntfys://host/topic`` …) safe to show: its scheme
    and its host, nothing else. Services keep secrets everywhere else: a
    password in the userinfo, tokens in the path or *as* the host, topics and
    phone numbers in the path, addresses in the query. So the host is kept
    only when it is a host name (a dot, ``localhost``, an IP address) and
    the rest is ``***``."""
    text = str(url).strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return "***"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hostport = authority.rpartition("@")[2]
    host, port = hostport, ""
    m = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?", hostport)
    if m:
        host, port = m.group(1), m.group(2) or ""
    shown = host if _is_host_name(host) else "***"
    tail = "/***" if rest[len(authority):].strip("/") or "@" in authority or not m else ""
    return f"{scheme.lower()}://{shown}{':' + port if port and shown != '***' else ''}{tail}"


def _is_host_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    return bool(re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", host))

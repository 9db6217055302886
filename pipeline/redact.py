"""Secrets out of what is shown: every message, log line, digest and page
shows ``redact_url(url)`` instead of a URL (no user:password@, secret-looking
query values as ***). Shared by every stage, so it imports nothing of theirs."""

from __future__ import annotations

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

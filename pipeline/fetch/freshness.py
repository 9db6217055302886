"""How long a response says it stays fresh: ``Cache-Control: max-age`` or,
without it, ``Expires`` minus ``Date`` (RFC 9111 §4.2.1). The poll scheduler
(pipeline/feedstate.py) never polls a feed sooner than this, within poll_max.
Only what the server sent is read; a malformed value counts as absent."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.I)
_NO_FRESHNESS = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:[=,]|$)", re.I)


def fresh_for(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the response may be reused, or None when it says nothing (or
    says not to reuse it: no-cache, no-store)."""
    control = headers.get("cache-control") or ""
    if _NO_FRESHNESS.search(control):
        return None
    found = _MAX_AGE.search(control)
    if found:
        return float(found.group(1))
    expires = _http_date(headers.get("expires"))
    if expires is None:
        return None
    sent = _http_date(headers.get("date")) or now or datetime.now(timezone.utc)
    return max(0.0, (expires - sent).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

"""The one door from the reading room to the digest package.

``/`` and ``/digest/D`` are renderers of the same ``Digest`` model the digest
files are written from, built the same way ``write_day`` builds it. Everything
the web takes from ``pipeline.digest`` is imported here, so that the digest's
split into model/render/write is an import change in this file only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import storage
from pipeline import digest
from pipeline.config import Settings

Digest = digest.Digest
digest_day_of = digest.digest_day_of
digest_window = digest.digest_window
safe_url = digest.safe_url


@dataclass
class Briefing:
    """A day's digest and what the page needs beside it."""

    digest: Digest
    item_ids: dict[str, int]        # a report's (safe) URL -> stored item id
    previous_day: date | None       # the nearest days with kept items, for navigation
    next_day: date | None


def build_briefing(settings: Settings, store: storage.Store, day: date,
                   now: datetime | None = None) -> Briefing:
    """The digest of ``day`` exactly as ``write_day`` would write it, plus links."""
    model = digest.digest_for(settings, store, day, now=now or datetime.now(timezone.utc))
    start, end = digest_window(day, settings.digest_time, settings.tz)
    kept = storage.items_between(store, start, end, statuses=["new", "update"])
    ids = {safe_url(i.url): i.id for i in kept if safe_url(i.url)}
    before = storage.kept_item_time(store, before=start)
    after = storage.kept_item_time(store, after=end)
    return Briefing(digest=model, item_ids=ids,
                    previous_day=_day(before, settings), next_day=_day(after, settings))


def _day(moment: datetime | None, settings: Settings) -> date | None:
    return digest_day_of(moment, settings.digest_time, settings.tz) if moment else None


def day_to_show(settings: Settings, store: storage.Store, now: datetime) -> date:
    """The briefing ``/`` shows: the newest digest written; before any was
    written, the day of the newest kept item; on an empty database, today's."""
    written = storage.latest_digest_day(store)
    if written:
        return date.fromisoformat(written)
    newest = storage.kept_item_time(store)
    return _day(newest or now, settings)


def open_day(settings: Settings, now: datetime) -> tuple[date, datetime]:
    """The digest still open (the one the newest items go into) and its start."""
    day = digest_day_of(now, settings.digest_time, settings.tz)
    return day, digest_window(day, settings.digest_time, settings.tz)[0]

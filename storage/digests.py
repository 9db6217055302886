"""The one query a digest is built from (``pipeline.digest.write`` calls it)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from pipeline.records import DigestInputs
from storage.outbox import failing_channels
from storage.queries import (earlier_reports, failing_feeds, feeds_to_update, items_between,
                             titles_for)
from storage.store import Store


def digest_inputs(store: Store, start: datetime, end: datetime,
                  feed_urls: Iterable[str] | None = None,
                  seeds: Iterable[tuple[str, str]] = ()) -> DigestInputs:
    """What the digest of [start, end) is built from: the items found in it, the
    originals its duplicates and updates copied, which of ``feed_urls`` are failing,
    and what the reader read before: the ``seeds`` (name, text) given, and the reports
    stored before ``start`` of the stories the window's reports belong to."""
    items = items_between(store, start, end)
    copied = [i.duplicate_of for i in items
              if i.status in ("duplicate", "update") and i.duplicate_of]
    stories = {key for i in items if i.status in ("new", "update")
               for key in (i.story_key, i.url, i.duplicate_of) if key}
    return DigestInputs(start=start, end=end, items=tuple(items),
                        originals=titles_for(store, copied),
                        failing_feeds=tuple(failing_feeds(store, feed_urls)),
                        feeds_to_update=tuple(feeds_to_update(store, feed_urls)),
                        failing_channels=tuple(failing_channels(store)),
                        seeds=tuple(seeds), earlier=tuple(earlier_reports(store, start, stories)))

"""The one query a digest is built from (``pipeline.digest.write`` calls it)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from pipeline.records import DigestInputs
from storage.outbox import failing_channels
from storage.queries import failing_feeds, items_between, titles_for
from storage.store import Store


def digest_inputs(store: Store, start: datetime, end: datetime,
                  feed_urls: Iterable[str] | None = None) -> DigestInputs:
    """What the digest of [start, end) is built from: the items found in it, the
    originals its duplicates copied, and which of ``feed_urls`` are failing."""
    items = items_between(store, start, end)
    copied = [i.duplicate_of for i in items if i.status == "duplicate" and i.duplicate_of]
    return DigestInputs(start=start, end=end, items=tuple(items),
                        originals=titles_for(store, copied),
                        failing_feeds=tuple(failing_feeds(store, feed_urls)),
                        failing_channels=tuple(failing_channels(store)))

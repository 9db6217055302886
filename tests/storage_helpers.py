"""Questions only the tests ask of the database, answered through storage's own
functions (the SQL stays in ``storage/``; nothing in the pipeline needs these)."""

from __future__ import annotations

from collections import Counter

import storage
from pipeline.records import FeedState


def is_seen(store: storage.Store, url: str) -> bool:
    return bool(storage.seen_urls(store, [url]))


def save_feed_state(store: storage.Store, state: FeedState) -> None:
    """A feed's state alone, as the cycle stores a failed feed's."""
    storage.save_feed_batch(store, state, [])


def count_items(store: storage.Store, status: str | None = None) -> int:
    return sum(1 for item in storage.all_items(store) if status in (None, item.status))


def duplicate_url_count(store: storage.Store) -> int:
    """Entry URLs stored more than once (must always be 0)."""
    return sum(n > 1 for n in Counter(item.url for item in storage.all_items(store)).values())

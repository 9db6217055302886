"""Persistence: SQLModel tables and the only SQL in Newswatch.

Callers use the functions re-exported here and get plain records back;
the table classes in ``storage.models`` never leave this package.
"""

from storage.queries import (all_items, count_items, digest_written, duplicate_url_count,
                             failing_feeds, feed_states, fingerprints, is_seen, items_between,
                             last_cycle, original_for_canonical, record_cycle, record_digest,
                             replace_alerts, save_feed_batch, save_feed_state,
                             save_feed_states, seen_urls,
                             titles_for, reports_per_rule)
from storage.store import CycleLocked, Store, cycle_lock, integrity_check, open_store

__all__ = [
    "Store", "open_store", "cycle_lock", "CycleLocked", "integrity_check",
    "all_items", "count_items", "digest_written", "duplicate_url_count", "failing_feeds",
    "feed_states", "fingerprints", "is_seen", "items_between", "last_cycle",
    "original_for_canonical", "record_cycle", "record_digest", "replace_alerts",
    "save_feed_batch", "save_feed_state", "save_feed_states", "seen_urls", "titles_for",
    "reports_per_rule",
]

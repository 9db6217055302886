"""Persistence: SQLModel tables and the only SQL in Newswatch.

Callers use the functions re-exported here and get plain records back;
the table classes in ``storage.models`` never leave this package.
"""

from storage.queries import (all_items, count_items, digest_written, duplicate_url_count,
                             failing_feeds, feed_states, fingerprints, is_seen, items_between,
                             last_cycle, original_for_canonical, record_cycle, record_digest,
                             replace_alerts, save_feed_batch, save_feed_state,
                             save_feed_states, seen_urls,
                             titles_for)
from storage.store import CycleLocked, Store, cycle_lock, integrity_check, open_store
from storage.reading import (alert_rule_names, copies_of, ids_for_urls, item_by_id, item_by_url,
                             items_by_ids, kept_counts_by_feed, kept_item_time,
                             latest_digest_day, search_items, search_sources, story_items)
from storage.search import SearchQuery, SearchTerm

__all__ = [
    "Store", "open_store", "cycle_lock", "CycleLocked", "integrity_check",
    "all_items", "count_items", "digest_written", "duplicate_url_count", "failing_feeds",
    "feed_states", "fingerprints", "is_seen", "items_between", "last_cycle",
    "original_for_canonical", "record_cycle", "record_digest", "replace_alerts",
    "save_feed_batch", "save_feed_state", "save_feed_states", "seen_urls", "titles_for",
    # the reading room (storage/reading.py, storage/search.py)
    "alert_rule_names", "copies_of", "ids_for_urls", "item_by_id", "item_by_url", "items_by_ids",
    "kept_counts_by_feed", "kept_item_time", "latest_digest_day", "search_items",
    "search_sources", "story_items", "SearchQuery", "SearchTerm",
]

"""Persistence: SQLModel tables and the only SQL in Newswatch.

Callers use the functions re-exported here and get plain records back;
the table classes in ``storage.models`` never leave this package.
"""

from storage.outbox import (alerted_items_since, channel_states, claim_deliveries,
                            deliveries, delivery_counts, due_deliveries, enqueue_deliveries,
                            failing_channels, forget_channels, mark_failed, mark_sent,
                            newest_items, prune_deliveries, requeue_deliveries,
                            retry_failed_deliveries, stored_items)
from storage.pending import (count_pending_articles, due_pending_articles, pending_entry_urls,
                             save_feed_batch_with_pending)
from storage.digests import digest_inputs
from storage.links import carried_by_other_feeds, link_aliases, save_link_aliases
from storage.pace import counting_statements, poll_schedule
from storage.queries import (all_items, digest_written, discovery_floor,
                             failing_feeds, feed_states, feeds_to_update, fingerprints, items_between, last_cycle,
                             original_for_canonical, record_cycle, record_digest,
                             replace_alerts, save_feed_batch, save_feed_states, seen_urls,
                             earlier_reports, original_texts, reports_per_rule)
from storage.leases import (claim_feeds, digest_lock, feed_leases, live_replicas,
                            record_replica, release_feeds, replica_rows)
from storage.store import (CycleLocked, Store, cycle_lock, integrity_check, open_store,
                           upgrade_schema)
from storage.reading import (alert_rule_names, copies_of, ids_for_urls, item_by_id, item_by_url,
                             items_by_ids, kept_counts_by_feed, kept_item_time,
                             latest_digest_day, search_items, search_sources, story_items)
from storage.search import SearchQuery, SearchTerm
from storage.history import (count_retained, retained_kinds, count_to_rematch, items_to_rematch, promote,
                             prune_retained, set_alerts)

__all__ = [
    "Store", "open_store", "upgrade_schema", "cycle_lock", "CycleLocked", "integrity_check",
    "all_items", "digest_inputs", "digest_written", "discovery_floor", "failing_feeds",
    "feed_states", "fingerprints", "items_between", "last_cycle", "original_for_canonical",
    "record_cycle", "record_digest", "replace_alerts", "save_feed_batch", "save_feed_states",
    "seen_urls", "feeds_to_update",
    "count_pending_articles", "due_pending_articles", "pending_entry_urls",
    "save_feed_batch_with_pending", "poll_schedule", "counting_statements",
    "carried_by_other_feeds", "link_aliases", "save_link_aliases",
]
__all__ += [
    "alerted_items_since", "channel_states", "claim_deliveries", "deliveries", "delivery_counts",
    "due_deliveries", "enqueue_deliveries", "failing_channels", "forget_channels", "mark_failed",
    "mark_sent", "newest_items", "prune_deliveries", "requeue_deliveries",
    "retry_failed_deliveries", "stored_items", "earlier_reports", "original_texts",
    "reports_per_rule",
    # the reading room (storage/reading.py, storage/search.py)
    "alert_rule_names", "copies_of", "ids_for_urls", "item_by_id", "item_by_url", "items_by_ids",
    "kept_counts_by_feed", "kept_item_time", "latest_digest_day", "search_items",
    "search_sources", "story_items", "SearchQuery", "SearchTerm",
]
__all__ += [   # the retention store and rematch (storage/history.py)
    "count_retained", "retained_kinds", "count_to_rematch", "items_to_rematch", "promote", "prune_retained",
    "set_alerts",
]
__all__ += ["claim_feeds", "digest_lock", "feed_leases", "live_replicas", "record_replica",
            "release_feeds", "replica_rows"]

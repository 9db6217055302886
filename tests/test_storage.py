"""Storage on a real SQLite file: seen marks, one transaction per feed batch,
nothing stored twice, alerts kept with their hits."""

from datetime import datetime, timedelta, timezone

import pytest

import storage
from storage_helpers import count_items, duplicate_url_count, is_seen, save_feed_state
from pipeline.records import (Article, FeedEntry, FeedState, ItemOutcome, RuleMatch,
                              TermHit)

NOW = datetime(2024, 12, 9, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(env):
    s = storage.open_store(env["DATABASE_URL"])
    yield s
    s.close()


def _outcome(n: int, status: str = "new", alerts=()) -> ItemOutcome:
    entry = FeedEntry(feed_name="Feed", feed_url="http://f/rss", link=f"http://x.org/{n}?utm_source=a",
                      title=f"Title {n}", summary="s", published=NOW)
    return ItemOutcome(entry=entry, canonical_url=f"http://x.org/{n}", status=status,
                       fetched_at=NOW, article=Article(url=entry.link, title=f"Title {n}",
                                                        text="body " * 50),
                       alerts=list(alerts))


def test_sqlite_is_in_wal_mode(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_batch_is_stored_once_with_feed_state(store):
    hit = TermHit(term="Sednaya", field="text", start=0, end=7, matched="Sednaya")
    outcomes = [_outcome(1, alerts=[RuleMatch("Sednaya", (hit,))]), _outcome(2, "off_topic")]
    state = FeedState(url="http://f/rss", name="Feed", etag='"abc"', last_success_at=NOW)
    assert storage.save_feed_batch(store, state, outcomes) == 2
    # the same batch again (a replay, a second process) stores nothing twice
    assert storage.save_feed_batch(store, state, outcomes) == 0
    assert count_items(store) == 2 and duplicate_url_count(store) == 0
    assert storage.feed_states(store)["http://f/rss"].etag == '"abc"'
    items = storage.items_between(store, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert [i.alerts[0].hits[0] for i in items if i.alerts] == [hit]


def test_seen_by_entry_url_or_canonical_url(store):
    storage.save_feed_batch(store, FeedState(url="http://f/rss"), [_outcome(1)])
    assert storage.seen_urls(store, ["http://x.org/1?utm_source=a", "http://x.org/1",
                                     "http://x.org/2"]) == {"http://x.org/1?utm_source=a",
                                                             "http://x.org/1"}
    assert is_seen(store, "http://x.org/1")
    assert storage.original_for_canonical(store, ["http://x.org/1"]) == {
        "http://x.org/1": "http://x.org/1?utm_source=a"}


def test_failing_feed_state_round_trip(store):
    state = FeedState(url="http://f/rss", name="F", consecutive_failures=3,
                      last_error="fetch: 503 service unavailable (http://f/rss)",
                      failing_since=NOW, next_poll_at=NOW + timedelta(hours=1))
    save_feed_state(store, state)
    (failing,) = storage.failing_feeds(store)
    assert failing == state


def test_many_feed_states_saved_at_once_new_and_known(store):
    """The 304s of a cycle are saved together: a known feed's failure count is
    reset, a feed never stored before gets its row."""
    save_feed_state(store, FeedState(url="http://f/a", name="A", consecutive_failures=2,
                                             last_error="fetch: timeout (http://f/a)",
                                             failing_since=NOW))
    states = [FeedState(url="http://f/a", name="A", etag='"a1"', last_success_at=NOW),
              FeedState(url="http://f/b", name="B", last_modified="Mon, 09 Dec 2024 08:00:00 GMT",
                        last_success_at=NOW)]
    storage.save_feed_states(store, states)
    storage.save_feed_states(store, [])
    assert storage.feed_states(store) == {s.url: s for s in states}
    assert storage.failing_feeds(store) == []


def test_replace_alerts_for_rematch(store):
    storage.save_feed_batch(store, FeedState(url="http://f/rss"), [_outcome(1)])
    (item,) = storage.items_between(store, NOW, NOW + timedelta(seconds=1))
    assert storage.replace_alerts(store, item.id, [RuleMatch("New rule")]) == (1, 0)
    assert storage.replace_alerts(store, item.id, [RuleMatch("New rule")]) == (0, 0)
    assert storage.replace_alerts(store, item.id, []) == (0, 1)


def test_cycles_and_digests_recorded(store):
    assert storage.last_cycle(store) is None
    storage.record_cycle(store, NOW, NOW + timedelta(seconds=5), "cycle: ...")
    assert storage.last_cycle(store) == (NOW + timedelta(seconds=5), "cycle: ...")
    assert not storage.digest_written(store, "2024-12-09")
    storage.record_digest(store, "2024-12-09", NOW)
    assert storage.digest_written(store, "2024-12-09")


def test_cycle_lock_is_exclusive(store):
    with storage.cycle_lock(store):
        with pytest.raises(storage.CycleLocked, match="another newswatch cycle"):
            with storage.cycle_lock(store, wait=0.3):
                pass
    with storage.cycle_lock(store):     # released
        pass


def test_bad_database_url_is_a_storage_error():
    from pipeline.errors import StorageError
    with pytest.raises(StorageError):
        storage.open_store("nonsense://")

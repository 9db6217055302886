"""The replicas' claim SQL on a real PostgreSQL (storage/leases.py,
pipeline/leases.py): leases exclusive under concurrent claims, expiring,
released; the digest lock; a feed polled meanwhile not claimed as due; the
replicas recorded for health; SQLite unchanged."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

import storage
from conftest import write_config
from pgcluster import cluster
from pipeline import leases
from pipeline.config import load_settings
from pipeline.records import CycleSummary, FeedState

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc)
LEASE = NOW + timedelta(minutes=15)


@pytest.fixture(scope="module")
def pg_url():
    with cluster(port=54331) as url:
        yield url


@pytest.fixture
def store(pg_url):
    s = storage.open_store(pg_url)
    with s.engine.begin() as conn:
        from sqlalchemy import text
        conn.execute(text("TRUNCATE feed_leases, replicas, feeds"))
    yield s
    s.close()


def test_a_live_lease_is_exclusive_until_it_expires_or_is_released(store):
    assert storage.claim_feeds(store, "a", ["u1", "u2"], NOW, LEASE) == ["u1", "u2"]
    assert storage.claim_feeds(store, "b", ["u1", "u2", "u3"], NOW, LEASE) == ["u3"]
    # its own live lease is the replica's again (a second cycle inside the lease)
    assert sorted(storage.claim_feeds(store, "a", ["u1", "u3"], NOW, LEASE)) == ["u1"]
    assert storage.release_feeds(store, "a", ["u1", "u3"]) == 1     # u3 is b's
    assert storage.claim_feeds(store, "b", ["u1"], NOW, LEASE) == ["u1"]
    # a dead replica's lease: taken over once expired, not before
    assert storage.claim_feeds(store, "c", ["u2"], LEASE - timedelta(seconds=1), LEASE) == []
    assert storage.claim_feeds(store, "c", ["u2"], LEASE, LEASE + timedelta(minutes=15)) \
        == ["u2"]
    assert storage.feed_leases(store, NOW) == {"u1": "b", "u2": "c", "u3": "b"}


def test_concurrent_claims_split_the_feeds_without_overlap(store):
    urls = [f"http://feeds.test/{i}" for i in range(3000)]
    start, got = threading.Barrier(4), {}

    def claim(name: str) -> None:
        start.wait()
        got[name] = storage.claim_feeds(store, name, urls, NOW, LEASE)

    threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [u for part in got.values() for u in part]
    assert len(got) == 4 and sorted(claimed) == sorted(urls)      # each once, none lost
    owners = storage.feed_leases(store, NOW)
    assert all(owners[u] == name for name, part in got.items() for u in part)


def test_the_digest_lock_makes_a_second_replica_wait(store, pg_url):
    other = storage.open_store(pg_url)
    held, entered, release = threading.Event(), threading.Event(), threading.Event()

    def second() -> None:
        held.wait(10)
        with storage.digest_lock(other):
            entered.set()

    t = threading.Thread(target=second)
    t.start()
    with storage.digest_lock(store):
        held.set()
        # the second is blocked for as long as the first holds the lock
        assert not entered.wait(0.5)
        release.set()
    assert entered.wait(10)
    t.join(10)
    other.close()


@pytest.mark.parametrize("adaptive", [True, False])
def test_a_feed_polled_meanwhile_is_not_polled_again(store, tmp_path, pg_url, adaptive):
    feeds = [{"name": f"F{i}", "url": f"http://feeds.test/{i}.xml"} for i in range(3)]
    settings = load_settings(write_config(tmp_path, feeds, network={"poll_adaptive": adaptive}),
                             env={"DATABASE_URL": pg_url})
    specs = list(settings.feeds)
    due = [(f, FeedState(url=f.url, name=f.name)) for f in specs]
    # another replica polled F1 after this one read the states: it is not due now
    # (adaptive: by its next poll; fixed polling: polled within half an interval)
    polled = replace(due[1][1], last_success_at=NOW - timedelta(minutes=1),
                     next_poll_at=NOW + timedelta(hours=1))
    storage.save_feed_states(store, [polled])
    # leases are judged on the real clock
    storage.claim_feeds(store, "someone-else", [specs[2].url], NOW,
                        datetime.now(timezone.utc) + timedelta(minutes=15))
    # two replicas live: with fixed polling, "polled lately" is another replica's poll
    leases.heartbeat(store, NOW)
    storage.record_replica(store, "someone-else", NOW, datetime.now(timezone.utc))
    mine, queued = leases.claim_due(store, settings, due, {}, NOW)
    assert [f.url for f, _ in mine] == [specs[0].url]
    assert storage.feed_leases(store, NOW)[specs[0].url] == leases.replica_id()
    leases.release(store, [specs[0].url, specs[1].url, specs[2].url])
    assert storage.feed_leases(store, NOW) == {specs[2].url: "someone-else"}
    assert queued == {}


def test_replicas_are_reported_by_health(store):
    started = datetime.now(timezone.utc)
    leases.heartbeat(store, started)
    summary = CycleSummary(started_at=started, finished_at=started + timedelta(seconds=2))
    leases.heartbeat(store, started, summary)
    report = leases.replicas_report(store, datetime.now(timezone.utc), timedelta(minutes=5))
    assert f"replica {leases.replica_id()}" in report and "cycle: feeds 0 polled" in report
    # a replica not seen for longer than the limit is gone from the report
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert leases.replicas_report(store, later, timedelta(minutes=5)) == ""


def test_sqlite_is_unchanged(tmp_path):
    store = storage.open_store(f"sqlite:///{tmp_path / 'n.db'}")
    settings = load_settings(write_config(tmp_path, [{"name": "F", "url": "http://x.test/f"}]),
                             env={"DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"})
    due = [(f, FeedState(url=f.url)) for f in settings.feeds]
    assert leases.claim_due(store, settings, due, {}, NOW) == (due, {})
    assert storage.feed_leases(store, NOW) == {}
    with leases.cycle_guard(store):
        with pytest.raises(storage.CycleLocked):
            with storage.cycle_lock(store, wait=0):
                pass
    store.close()


def test_a_replica_claims_its_share_of_the_due_feeds(store, tmp_path, pg_url):
    feeds = [{"name": f"F{i}", "url": f"http://feeds.test/{i}.xml"} for i in range(9)]
    settings = load_settings(write_config(tmp_path, feeds), env={"DATABASE_URL": pg_url})
    due = [(f, FeedState(url=f.url, name=f.name)) for f in settings.feeds]
    now = datetime.now(timezone.utc)
    for other in ("r-2", "r-3"):       # two more replicas seen lately: a third each
        storage.record_replica(store, other, now, now)
    leases.heartbeat(store, now)
    mine, _ = leases.claim_due(store, settings, due, {}, NOW)
    assert [f.url for f, _ in mine] == [f.url for f, _ in due[:3]]
    assert storage.claim_feeds(store, "r-2", [f.url for f, _ in due], now,
                               now + timedelta(minutes=5), limit=3) == \
        [f.url for f, _ in due[3:6]]

"""Unattended trust (issue 13): no feed, page or clock halts the service or loses a day.

One test per class of failure, each through real cycles against real local
servers (tests/faultserver.py), a real SQLite file and the real extraction pool:

1. one feed's unexpected error (a malformed discovered link, a malformed entry
   link, a bug in a stage) is that feed's failure alone;
6. a long parse does not hold the other downloads; a feed of many new entries
   is fetched newest first, up to the per-feed cap, the rest in later cycles;
7. a page that answered 503 is retried in later cycles with backoff and judged
   on the page when it comes (a 404 falls back at once); a database made by the
   previous schema gains the table it needs and keeps working;
(classes 8, 9 and 10 are in test_trust_clock.py)
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from email.utils import formatdate

import storage
import storage_helpers
from conftest import write_config
from pipeline import feeds
from pipeline.cycle import run_cycle
from pipeline.maintenance import health
from trust_support import srv  # noqa: F401  (the fault server fixture)
from trust_support import T0, feed_xml, page, running, stored


# ------------------------------------------------------------- 1. one feed alone

def test_one_feeds_unexpected_error_is_that_feeds_failure_alone(srv, tmp_path, env,
                                                                monkeypatch, caplog):
    srv.static("/a/good", page("Detainees' families read the Tadamon lists"), "text/html")
    srv.static("/good.xml", feed_xml([{"title": "Tadamon lists", "link": srv.url("/a/good")}]),
               "application/rss+xml")
    # an HTML page at a feed URL whose advertised feed link is a malformed URL
    srv.static("/page.html", b'<!DOCTYPE html><html><head><link rel="alternate" '
               b'type="application/rss+xml" href="http://[::1"></head><body>news</body></html>',
               "text/html")
    # an entry whose link is a malformed URL
    srv.static("/badlink.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>B'
               b'</title><item><title>Syria</title><link>http://[::1</link></item>'
               b'</channel></rss>', "application/rss+xml")
    # a bug nobody foresaw, in a stage: any exception at all
    srv.static("/buggy.xml", feed_xml([{"title": "Syria", "link": srv.url("/a/good")}]),
               "application/rss+xml")
    real_parse = feeds.parse_feed

    def buggy_parse(body, *, feed_url, **kw):
        if feed_url.endswith("/buggy.xml"):
            raise KeyError("a bug in a stage")
        return real_parse(body, feed_url=feed_url, **kw)
    monkeypatch.setattr(feeds, "parse_feed", buggy_parse)
    bad = {"Page": "/page.html", "Bad link": "/badlink.xml", "Buggy": "/buggy.xml"}
    cfg = write_config(tmp_path, [{"name": "Good", "url": srv.url("/good.xml")},
                                  *({"name": n, "url": srv.url(p)} for n, p in bad.items())])
    with running(cfg, env) as pipeline, caplog.at_level("WARNING", logger="newswatch"):
        first = run_cycle(pipeline, now=T0)
        second = run_cycle(pipeline, now=T0 + timedelta(minutes=30))
        store = pipeline.store
        for summary in (first, second):
            assert summary.feeds_polled == 4 and summary.feeds_failed >= 1, summary.line()
        assert first.new == 1 and list(stored(store)) == [srv.url("/a/good")]
        states = storage.feed_states(store)
        # whatever the malformed links come to, it is recorded on their feed alone
        for name, path in bad.items():
            state = states[srv.url(path)]
            assert state.last_error is None or (
                state.last_error.startswith("feeds: ")
                and state.last_error.endswith(f"({srv.url(path)})")), (name, state)
        buggy = states[srv.url("/buggy.xml")]
        assert buggy.consecutive_failures == 2
        assert buggy.last_error.startswith("feeds: unexpected KeyError: "), buggy.last_error
        assert states[srv.url("/good.xml")].consecutive_failures == 0
        ok, reason = health(pipeline.settings, store, now=T0 + timedelta(minutes=31))
        assert ok, reason
    # a bug's traceback is logged in full once per feed, not every cycle
    tracebacks = [r.getMessage() for r in caplog.records if "Traceback" in r.getMessage()]
    assert sum("KeyError" in t for t in tracebacks) == 1, tracebacks


# ----------------------------------------------- 6. big documents, many entries

def test_a_long_parse_does_not_hold_the_other_feeds_downloads(srv, tmp_path, env,
                                                              monkeypatch):
    """While one feed is being parsed, the event loop goes on downloading: the
    other feed's article is fetched before that parse ends. (Parsed in the
    loop's thread, a 20,000-entry feed held every download for 18 s here, and
    a healthy article timed out behind it.)"""
    article_served, big_served = threading.Event(), threading.Event()
    srv.static("/a/quick", page("Detainees' families read the Tadamon lists"), "text/html")

    @srv.route("/big.xml")
    def big(req, reply):
        reply.send(200, feed_xml([{"title": "Syria", "link": srv.url("/a/gone")}]),
                   {"Content-Type": "application/rss+xml"})
        big_served.set()

    @srv.route("/quick.xml")
    def quick(req, reply):
        big_served.wait(10)         # the big feed's body is in first
        reply.send(200, feed_xml([{"title": "Tadamon", "link": srv.url("/a/quick")}]),
                   {"Content-Type": "application/rss+xml"})

    @srv.route("/a/quick")
    def quick_article(req, reply):
        reply.send(200, page("Detainees' families read the Tadamon lists"),
                   {"Content-Type": "text/html"})
        article_served.set()

    real_parse = feeds.parse_feed
    seen_during_parse = []

    def long_parse(body, *, feed_url, **kw):
        if feed_url.endswith("/big.xml"):    # a parse of many seconds
            seen_during_parse.append(article_served.wait(20))
        return real_parse(body, feed_url=feed_url, **kw)
    monkeypatch.setattr(feeds, "parse_feed", long_parse)
    cfg = write_config(tmp_path, [{"name": "Big", "url": srv.url("/big.xml")},
                                  {"name": "Quick", "url": srv.url("/quick.xml")}])
    with running(cfg, env) as pipeline:
        summary = run_cycle(pipeline, now=T0)
        assert seen_during_parse == [True]
        assert summary.feeds_failed == 0 and summary.new == 2, summary.line()


def test_a_feed_of_many_new_entries_is_fetched_newest_first_up_to_the_cap(srv, tmp_path,
                                                                          env):
    n = 1000                         # default cap: 200 per feed per cycle
    items = [{"title": f"Syria report {i}", "link": srv.url(f"/big/{i}"),
              "description": f"Detainees report number {i}",
              "pubDate": formatdate(1733700000 + i * 60, usegmt=True)} for i in range(n)]
    srv.static("/big.xml", feed_xml(items), "application/rss+xml", etag='"v1"')
    cfg = write_config(tmp_path, [{"name": "Big", "url": srv.url("/big.xml")}])
    with running(cfg, env) as pipeline:
        fetched, unchanged = [], []
        for k in range(6):
            srv.reset_counts()
            summary = run_cycle(pipeline, now=T0 + timedelta(minutes=30 * k))
            fetched.append(sorted(int(r.path.rsplit("/", 1)[1]) for r in srv.requests
                                  if r.path.startswith("/big/")))
            unchanged.append(summary.feeds_not_modified)
            if k == 0:
                assert len(fetched[0]) == 200, summary.line()
                assert summary.deferred == n - 200, summary.line()
                assert f"{n - 200} deferred" in summary.line()
        assert [len(f) for f in fetched] == [200, 200, 200, 200, 200, 0]
        # newest first: each cycle the newest of what was left
        assert [f[0] for f in fetched[:5]] == [800, 600, 400, 200, 0]
        # the deferred entries wait in the database: the feed is not read again
        assert unchanged == [0, 1, 1, 1, 1, 1]
        store = pipeline.store
        assert storage_helpers.count_items(store) == n and storage_helpers.duplicate_url_count(store) == 0
        assert storage.count_pending_articles(store) == 0


# ----------------------------------------------------------- 7. transient pages

def test_a_transient_failure_is_retried_with_backoff_and_judged_on_the_page(srv, tmp_path,
                                                                           env):
    calls = {"flaky": 0}

    @srv.route("/a/flaky")
    def flaky(req, reply):
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            reply.send(503, b"busy", {"Content-Type": "text/plain"})
        else:        # the page says what the summary does not: an alert rule's word
            reply.send(200, page("Tadamon lists read", "Survivors described being tortured."),
                       {"Content-Type": "text/html"})
    srv.respond("/a/down", 503, b"busy", {"Content-Type": "text/plain"})
    items = [{"title": "Tadamon lists read", "link": srv.url("/a/flaky"),
              "description": "Families of detainees read the lists."},
             {"title": "Syria prison records", "link": srv.url("/a/down"),
              "description": "Prison records found."},
             {"title": "Syria detainees", "link": srv.url("/a/gone"),
              "description": "Detainees' families wait."}]
    # no validators: every cycle lists the pending entries again
    srv.respond("/feed.xml", 200, feed_xml(items), {"Content-Type": "application/rss+xml"})
    cfg = write_config(tmp_path, [{"name": "Wire", "url": srv.url("/feed.xml")}])
    with running(cfg, env) as pipeline:
        store = pipeline.store
        first = run_cycle(pipeline, now=T0)
        rows = stored(store)
        assert srv.url("/a/flaky") not in rows and srv.url("/a/down") not in rows
        gone = rows[srv.url("/a/gone")]                     # a 404 falls back at once
        assert gone.extraction == "entry" and "404" in gone.error
        assert first.to_retry == 2 and "2 to retry" in first.line(), first.line()

        run_cycle(pipeline, now=T0 + timedelta(minutes=5))  # not due yet, not "new" either
        assert calls["flaky"] == 1 and srv.hits["/a/down"] == 1
        assert srv.url("/a/flaky") not in stored(store)

        run_cycle(pipeline, now=T0 + timedelta(seconds=660))   # retry_base 600 s passed
        flaky_item = stored(store)[srv.url("/a/flaky")]
        assert calls["flaky"] == 2
        assert flaky_item.status == "new" and flaky_item.extraction == "page"
        assert "Torture" in [m.rule for m in flaky_item.alerts]  # decided on the page

        # the always-busy page: retried 1200 s, 2400 s, 4800 s later (doubling), then
        # stored from its summary with the reason, after 1 + retry_attempts tries
        at = 660
        for wait in (1200, 2400, 4800):
            at += wait
            assert srv.url("/a/down") not in stored(store)
            before = srv.hits["/a/down"]
            run_cycle(pipeline, now=T0 + timedelta(seconds=at - 10))   # not due yet
            assert srv.hits["/a/down"] == before
            run_cycle(pipeline, now=T0 + timedelta(seconds=at))
            assert srv.hits["/a/down"] == before + 1
        down = stored(store)[srv.url("/a/down")]
        assert srv.hits["/a/down"] == 5
        assert down.extraction == "entry" and "503" in down.error
        assert "gave up after 5 attempts" in down.error
        assert storage.count_pending_articles(store) == 0
        assert storage_helpers.duplicate_url_count(store) == 0


# The tables as the previous release created them (sqlite3 .schema of a new database).
OLD_SCHEMA = """
CREATE TABLE feeds (url VARCHAR NOT NULL, name VARCHAR NOT NULL, etag VARCHAR,
  last_modified VARCHAR, consecutive_failures INTEGER NOT NULL, last_error TEXT,
  failing_since DATETIME, last_success_at DATETIME, next_poll_at DATETIME, PRIMARY KEY (url));
CREATE TABLE items (id INTEGER NOT NULL, url VARCHAR NOT NULL, canonical_url VARCHAR NOT NULL,
  guid VARCHAR NOT NULL, title TEXT, summary TEXT, text TEXT, source VARCHAR NOT NULL,
  feed_url VARCHAR NOT NULL, status VARCHAR NOT NULL, published DATETIME,
  fetched_at DATETIME NOT NULL, extraction VARCHAR NOT NULL, fallback_reason VARCHAR,
  author VARCHAR, site VARCHAR, language VARCHAR, duplicate_of VARCHAR, story_key VARCHAR,
  fingerprint BLOB, error TEXT, PRIMARY KEY (id), CONSTRAINT uq_items_url UNIQUE (url));
CREATE INDEX ix_items_fetched_status ON items (fetched_at, status);
CREATE INDEX ix_items_canonical ON items (canonical_url);
CREATE TABLE cycles (id INTEGER NOT NULL, started_at DATETIME NOT NULL,
  finished_at DATETIME NOT NULL, summary TEXT, PRIMARY KEY (id));
CREATE INDEX ix_cycles_finished_at ON cycles (finished_at);
CREATE TABLE digests (day VARCHAR NOT NULL, written_at DATETIME NOT NULL, PRIMARY KEY (day));
CREATE TABLE alerts (id INTEGER NOT NULL, item_id INTEGER NOT NULL, rule VARCHAR NOT NULL,
  hits TEXT, created_at DATETIME NOT NULL, PRIMARY KEY (id),
  CONSTRAINT uq_alerts_item_rule UNIQUE (item_id, rule), FOREIGN KEY(item_id) REFERENCES items (id));
CREATE INDEX ix_alerts_item_id ON alerts (item_id);
INSERT INTO items (url, canonical_url, guid, title, summary, text, source, feed_url, status,
  fetched_at, extraction) VALUES ('https://old.example/a', 'https://old.example/a', '',
  'Old item', '', '', 'Old', 'https://old.example/feed', 'new', '2030-02-01 08:00:00', 'page');
INSERT INTO cycles (started_at, finished_at, summary) VALUES
  ('2030-02-01 08:00:00', '2030-02-01 08:01:00', 'cycle: old');
"""


def test_a_database_of_the_previous_schema_gains_the_pending_table(srv, tmp_path, env):
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    (tmp_path / "data").mkdir()
    with sqlite3.connect(path) as con:
        con.executescript(OLD_SCHEMA)
    calls = []

    @srv.route("/a/flaky")
    def flaky(req, reply):
        calls.append(1)
        status = 503 if len(calls) == 1 else 200
        reply.send(status, page("Tadamon lists read"), {"Content-Type": "text/html"})
    srv.static("/feed.xml", feed_xml([{"title": "Tadamon", "link": srv.url("/a/flaky")}]),
               "application/rss+xml", etag='"v1"')
    cfg = write_config(tmp_path, [{"name": "Wire", "url": srv.url("/feed.xml")}])
    with running(cfg, env) as pipeline:
        run_cycle(pipeline, now=T0)
        assert storage.count_pending_articles(pipeline.store) == 1
        run_cycle(pipeline, now=T0 + timedelta(hours=1))
        rows = stored(pipeline.store)
    assert set(rows) == {"https://old.example/a", srv.url("/a/flaky")}
    assert rows[srv.url("/a/flaky")].extraction == "page"
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

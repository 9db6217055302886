"""Unattended trust (issue 13): no feed, page or clock halts the service or loses a day.

One test per class of failure, through real cycles against real local servers
(tests/faultserver.py), a real SQLite file and the real extraction pool
(classes 1, 6 and 7 are in test_trust_cycle.py):

8. a configured feed whose host NAME resolves to loopback is refused;
9. a clock that went back: health says so, and new items still land in a
   digest that will be written;
10. a stop request while the workers are still starting: the pages already
    downloaded get their extraction and are committed.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, time as dtime, timedelta, timezone

import storage
from conftest import write_config
from newsweb import page_around
from pipeline import digest
from pipeline.config import load_settings
from pipeline.cycle import STOP_GRACE, run_cycle
from pipeline.extract import pool as pool_mod
from pipeline.maintenance import health
from trust_support import srv  # noqa: F401  (the fault server fixture)
from trust_support import SECOND_REPORT, T0, feed_xml, page, running, stored


# ------------------------------------------------ 8. DNS for configured feeds too

def test_a_configured_feed_named_by_a_host_resolving_to_loopback_is_refused(srv, tmp_path,
                                                                           env):
    srv.static("/named.xml", feed_xml([]), "application/rss+xml")
    srv.static("/literal.xml", feed_xml([]), "application/rss+xml")
    named = f"http://localhost:{srv.port}/named.xml"
    cfg = write_config(tmp_path, [{"name": "Named", "url": named},
                                  {"name": "Literal", "url": srv.url("/literal.xml")}],
                       network={"allow_private_addresses": False})
    with running(cfg, env) as pipeline:
        summary = run_cycle(pipeline, now=T0)
        states = storage.feed_states(pipeline.store)
    assert srv.hits["/named.xml"] == 0, "a name resolving to loopback was fetched"
    assert "refused: localhost resolves to" in states[named].last_error
    assert "loopback" in states[named].last_error
    # an address written literally in the config stays the user's explicit choice
    assert srv.hits["/literal.xml"] == 1 and states[srv.url("/literal.xml")].last_error is None
    assert summary.feeds_failed == 1


# ------------------------------------------------------------ 9. the clock goes back

def test_a_cycle_that_finished_in_the_future_is_not_healthy(tmp_path, env):
    cfg = write_config(tmp_path, [{"name": "F", "url": "http://127.0.0.1:9/feed"}])
    settings = load_settings(cfg, env=env)
    store = storage.open_store(settings.database_url)
    try:
        storage.record_cycle(store, T0 + timedelta(hours=2), T0 + timedelta(hours=2, seconds=5),
                             "cycle: ...")
        ok, reason = health(settings, store, now=T0)
        assert not ok and reason.startswith("unhealthy"), reason
        assert "future" in reason and "clock" in reason, reason
        assert health(settings, store, now=T0 + timedelta(hours=2, minutes=1))[0]
    finally:
        store.close()


def test_items_found_after_the_clock_went_back_land_in_a_digest_still_to_write(srv, tmp_path,
                                                                               env):
    day = date(2030, 3, 2)                       # digest at 07:00 UTC
    at = lambda h, m: datetime.combine(day, dtime(h, m), timezone.utc)  # noqa: E731
    srv.static("/a/one", page("Tadamon lists read"), "text/html")
    srv.static("/a/two", page_around("Second batch of Tadamon records", SECOND_REPORT).encode(),
               "text/html")
    first = [{"title": "Tadamon lists", "link": srv.url("/a/one")}]
    srv.respond("/feed.xml", 200, feed_xml(first), {"Content-Type": "application/rss+xml"})
    cfg = write_config(tmp_path, [{"name": "Wire", "url": srv.url("/feed.xml")}],
                       digest_time="07:00")
    with running(cfg, env) as pipeline:
        settings, store = pipeline.settings, pipeline.store
        run_cycle(pipeline, now=at(6, 50))
        digest.write_day(settings, store, day, now=at(7, 0))       # day's digest: written
        srv.respond("/feed.xml", 200, feed_xml(first + [
            {"title": "Second batch", "link": srv.url("/a/two")}]),
            {"Content-Type": "application/rss+xml"})
        later = run_cycle(pipeline, now=at(6, 30))                 # the clock stepped back
        assert later.new == 1 and later.started_at >= at(7, 0)
        two = stored(store)[srv.url("/a/two")]
        assert two.fetched_at >= at(7, 0), two.fetched_at
        start, end = digest.digest_window(day + timedelta(days=1), settings.digest_time,
                                          settings.tz)
        assert srv.url("/a/two") in [i.url for i in storage.items_between(store, start, end)]


# ------------------------------------------------------- 10. shutdown under load

def test_a_stop_while_the_workers_start_still_extracts_the_downloaded_pages(srv, tmp_path,
                                                                           env, monkeypatch):
    """The workers' cold start, slowed past the stop grace (as a busy machine
    does), must not cost the pages downloaded when the stop came: their grace
    counts from when the workers could take them."""
    stop, arrived, lock = threading.Event(), [], threading.Lock()
    paths = [f"/a/{i}" for i in range(3)]

    def article(req, reply):
        with lock:
            arrived.append(req.path)
            if len(arrived) == len(paths):
                stop.set()                      # every page in flight: stop now
        stop.wait(10)
        reply.send(200, page(f"Tadamon report {req.path}"), {"Content-Type": "text/html"})
    for p in paths:
        srv.route(p, article)
    srv.static("/feed.xml", feed_xml([{"title": f"Tadamon {p}", "link": srv.url(p)}
                                      for p in paths]), "application/rss+xml", etag='"v1"')
    real_start = pool_mod._start_all

    def slow_start(executor, workers):
        time.sleep(STOP_GRACE + 2)
        real_start(executor, workers)
    monkeypatch.setattr(pool_mod, "_start_all", slow_start)
    cfg = write_config(tmp_path, [{"name": "Wire", "url": srv.url("/feed.xml")}])
    with running(cfg, env) as pipeline:
        summary = run_cycle(pipeline, stop=stop, now=T0)
        rows = stored(pipeline.store)
        assert stop.is_set()
        assert sorted(rows) == sorted(srv.url(p) for p in paths), summary.line()
        assert {r.extraction for r in rows.values()} == {"page"}
        assert storage.feed_states(pipeline.store)[srv.url("/feed.xml")].etag == '"v1"'

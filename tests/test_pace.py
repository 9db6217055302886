"""Adaptive polling: each feed at the pace it publishes (pipeline/feedstate.py).

The rules are pure functions of the state, the entries' dates, the time and
the config, tested here without a network; then a real cycle through the
real APScheduler, on an injected clock, against tests/faultserver.py shows a
fast feed polled more often than a slow one."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

import storage
from conftest import write_config
from fakeclock import FakeClock, scheduler_reads
from newsweb import rss
from tests.faultserver import fault_server  # noqa: F401
from pipeline import cycle, feedstate, maintenance, scheduler
from pipeline.config import FeedSpec, load_settings, settings_from_mapping
from pipeline.errors import ConfigError, FetchError, HTTPStatusError
from pipeline.web import views
from pipeline.fetch.freshness import fresh_for
from pipeline.records import FeedState

NOW = datetime(2024, 12, 9, 12, 0, tzinfo=timezone.utc)
FEED = FeedSpec(name="Wire", url="http://feeds.example/wire")
WAVE1 = Path(__file__).parent / "fixtures" / "db" / "wave1.sqlite"   # tests/fixtures/db/
MIN, HOUR = 60.0, 3600.0


def settings(**network):
    raw = {"feeds": [{"name": FEED.name, "url": FEED.url}], "topic": {"any": ["prison"]},
           "poll_interval": "30m",
           "network": {"poll_adaptive": True, "poll_min": "5m", "poll_max": "2h", **network}}
    return settings_from_mapping(raw)


def every(minutes: float, n: int, newest_ago: float = 0.0) -> list[datetime]:
    """n publication dates ``minutes`` apart, the newest ``newest_ago`` minutes ago."""
    return [NOW - timedelta(minutes=newest_ago + i * minutes) for i in range(n)]


def succeeded(state=None, dates=None, fresh=None, s=None) -> FeedState:
    return feedstate.after_success(FEED, state or FeedState(url=FEED.url), NOW, s or settings(),
                                   etag=None, last_modified=None, dates=dates, fresh_for=fresh)


def wait_of(state: FeedState) -> float:
    return (state.next_poll_at - NOW).total_seconds()


# --- the rate ------------------------------------------------------------------

def test_a_feed_listing_only_its_last_hour_is_paced_by_that_hour():
    # a wire shows its last 12 items, five minutes apart: an hour's worth
    assert feedstate.publication_interval(every(5, 12), NOW) == pytest.approx(5 * MIN, rel=0.1)


def test_a_feed_listing_older_entries_counts_the_whole_week():
    dates = every(24 * 60, 20, newest_ago=60)   # daily for 20 days: 7 within the week
    assert feedstate.publication_interval(dates, NOW) == pytest.approx(24 * HOUR, rel=0.01)


def test_no_entry_within_the_week_is_the_week_and_undated_is_none():
    assert feedstate.publication_interval(every(60, 3, newest_ago=30 * 24 * 60), NOW) == \
        feedstate.RATE_WINDOW.total_seconds()
    assert feedstate.publication_interval([], NOW) is None
    assert feedstate.publication_interval([None, None], NOW) is None
    # every entry stamped with the time the feed was built: no rhythm to read
    assert feedstate.publication_interval([NOW] * 20, NOW) is None
    assert succeeded(dates=[NOW] * 20).poll_every == 30 * MIN


def test_future_dates_count_as_now():
    later = [NOW + timedelta(days=30)] + every(10, 6)
    assert feedstate.publication_interval(later, NOW) == pytest.approx(
        feedstate.publication_interval(every(10, 7), NOW), rel=0.2)


# --- the pace and its bounds ---------------------------------------------------------

def test_a_busy_wire_is_polled_at_poll_min_and_a_weekly_blog_at_poll_max():
    wire = succeeded(dates=every(1, 30))            # a publication a minute
    assert wire.poll_every == 5 * MIN and wait_of(wire) == 5 * MIN
    blog = succeeded(dates=every(7 * 24 * 60, 10, newest_ago=2 * 24 * 60))
    assert blog.poll_every == 2 * HOUR and wait_of(blog) == 2 * HOUR


def test_a_feed_between_the_bounds_follows_its_rate():
    # hourly for 10 hours: a third of an hour
    state = succeeded(dates=every(60, 10))
    assert state.poll_every == pytest.approx(feedstate.PACE_SHARE * 60 * MIN)
    assert wait_of(state) == state.poll_every and state.newest_entry_at == NOW


def test_bounds_are_the_configured_ones():
    s = settings(poll_min="1m", poll_max="6h")
    assert succeeded(dates=every(0.5, 30), s=s).poll_every == MIN
    assert succeeded(dates=every(7 * 24 * 60, 3), s=s).poll_every == 6 * HOUR


def test_a_new_feed_without_dates_uses_poll_interval():
    assert succeeded(dates=[]).poll_every == 30 * MIN
    # never polled: due at once
    due, skipped = feedstate.due_feeds([FEED], {}, NOW, settings())
    assert [f for f, _ in due] == [FEED] and skipped == 0


def test_a_quiet_feed_waits_longer_on_304s_up_to_four_times_its_pace():
    # fast at noon (paced at poll_min), then nothing new: a quarter of the quiet stretch
    state = succeeded(dates=every(5, 12))
    assert state.poll_every == 5 * MIN
    assert quiet_wait(state, hours=1) == 15 * MIN
    assert quiet_wait(state, hours=3) == 4 * 5 * MIN            # QUIET_CAP
    assert poll_at(state, hours=3).poll_every == 5 * MIN         # the measured pace stays
    slow = replace(state, poll_every=40 * MIN)
    assert quiet_wait(slow, hours=10) == 2 * HOUR                # poll_max


def poll_at(state: FeedState, hours: float) -> FeedState:
    now = NOW + timedelta(hours=hours)
    return feedstate.after_success(FEED, state, now, settings(), etag='"v1"', last_modified=None,
                                   dates=None, fresh_for=None)


def quiet_wait(state: FeedState, hours: float) -> float:
    return (poll_at(state, hours).next_poll_at - NOW).total_seconds() - hours * HOUR


def test_a_304_keeps_the_pace_it_had():
    state = succeeded(dates=every(60, 10))
    again = poll_at(state, hours=0.2)               # 12 minutes later, nothing new
    assert again.poll_every == state.poll_every and again.etag == '"v1"'


# --- what the server says ---------------------------------------------------------------

def test_max_age_is_never_polled_sooner_but_within_poll_max():
    # an hour and half a tick: a feed may be polled up to half a tick early
    assert wait_of(succeeded(dates=every(1, 30), fresh=3600)) == HOUR + 2.5 * MIN
    assert wait_of(succeeded(dates=every(1, 30), fresh=86400)) == 2 * HOUR
    slow = succeeded(dates=every(90, 30), fresh=60)  # paced at a third of 90 minutes
    assert wait_of(slow) == pytest.approx(30 * MIN)


def test_freshness_from_cache_control_and_expires():
    assert fresh_for({"cache-control": "public, max-age=900"}) == 900
    assert fresh_for({"cache-control": 'max-age="60", must-revalidate'}) == 60
    assert fresh_for({"cache-control": "no-cache, max-age=900"}) is None
    assert fresh_for({"cache-control": "s-maxage=10"}) is None
    assert fresh_for({"expires": "Mon, 09 Dec 2024 13:00:00 GMT",
                      "date": "Mon, 09 Dec 2024 12:00:00 GMT"}) == 3600
    assert fresh_for({"expires": "0", "date": "Mon, 09 Dec 2024 12:00:00 GMT"}) is None
    assert fresh_for({"expires": "Mon, 09 Dec 2024 11:00:00 GMT"}, now=NOW) == 0
    assert fresh_for({}) is None


def test_retry_after_is_honoured_over_the_pace():
    fast = succeeded(dates=every(1, 30))            # paced at 5 minutes
    exc = HTTPStatusError("fetch: 429 too many requests", url=FEED.url, status=429,
                          retry_after=3 * HOUR)
    failed = feedstate.after_failure(FEED, fast, NOW, exc, settings())
    assert wait_of(failed) == 3 * HOUR and failed.consecutive_failures == 1
    # and it is not polled even half a tick before the server said
    early = NOW + timedelta(hours=3) - timedelta(minutes=1)
    assert feedstate.due_feeds([FEED], {FEED.url: failed}, early, settings())[1] == 1
    assert feedstate.due_feeds([FEED], {FEED.url: failed}, early + timedelta(minutes=1),
                               settings())[1] == 0


def test_backoff_wins_over_a_short_pace_and_the_pace_over_a_short_backoff():
    s = settings(backoff_base="10m", backoff_max="1d")
    state = succeeded(dates=every(1, 30))
    for _ in range(4):                              # 4 failures: 10m * 2**2 = 40 min
        state = feedstate.after_failure(FEED, state, NOW, FetchError("fetch: refused"), s)
    assert wait_of(state) == 40 * MIN and state.poll_every == 5 * MIN
    slow = succeeded(dates=every(7 * 24 * 60, 3))   # paced at 2 hours
    first = feedstate.after_failure(FEED, slow, NOW, FetchError("fetch: refused"), s)
    assert wait_of(first) == 2 * HOUR


def test_bounds_that_make_no_sense_are_a_clear_error():
    with pytest.raises(ConfigError) as err:
        settings(poll_min="3h", poll_max="2h")
    assert err.value.key == "network.poll_min" and "poll_max" in err.value.reason
    with pytest.raises(ConfigError) as err:
        settings(poll_adaptive="sometimes")
    assert err.value.key == "network.poll_adaptive"


def test_fixed_polling_keeps_the_old_rules():
    s = settings(poll_adaptive=False)
    state = succeeded(dates=every(1, 30), s=s)
    assert state.next_poll_at is None and state.poll_every is None
    assert feedstate.tick(s) == timedelta(minutes=30)
    first = feedstate.after_failure(FEED, state, NOW, FetchError("fetch: refused"), s)
    assert first.next_poll_at is None               # the next cycle, as before


# --- ticks ----------------------------------------------------------------------------

def test_the_tick_is_poll_min_and_a_feed_is_due_at_the_nearest_tick():
    s = settings()
    assert feedstate.tick(s) == timedelta(minutes=5)
    assert feedstate.tick(settings(poll_min="2h")) == timedelta(minutes=30)
    state = FeedState(url=FEED.url, next_poll_at=NOW + timedelta(minutes=2))
    assert feedstate.due_feeds([FEED], {FEED.url: state}, NOW, s)[1] == 0
    state = FeedState(url=FEED.url, next_poll_at=NOW + timedelta(minutes=3))
    assert feedstate.due_feeds([FEED], {FEED.url: state}, NOW, s)[1] == 1


def test_a_config_edit_takes_effect_at_once():
    blog = succeeded(dates=every(7 * 24 * 60, 3))          # next poll in 2 h
    soon = NOW + timedelta(minutes=31)
    assert feedstate.due_feeds([FEED], {FEED.url: blog}, soon, settings())[1] == 1
    # poll_max lowered to 30 min, or adaptive polling turned off: due now
    assert feedstate.due_feeds([FEED], {FEED.url: blog}, soon, settings(poll_max="30m"))[1] == 0
    assert feedstate.due_feeds([FEED], {FEED.url: blog}, soon,
                               settings(poll_adaptive=False))[1] == 0
    # a failing feed's backoff stays in force either way
    failing = replace(blog, consecutive_failures=3)
    assert feedstate.due_feeds([FEED], {FEED.url: failing}, soon,
                               settings(poll_adaptive=False))[1] == 1


def test_an_idle_tick_is_skipped_but_a_cycle_runs_every_poll_interval():
    s = settings()
    later = {FEED.url: FeedState(url=FEED.url, next_poll_at=NOW + timedelta(hours=1))}
    assert feedstate.idle_tick(s, later, None, NOW - timedelta(minutes=5), NOW)
    assert not feedstate.idle_tick(s, later, None, NOW - timedelta(minutes=30), NOW)
    assert not feedstate.idle_tick(s, later, None, None, NOW)          # first tick
    assert not feedstate.idle_tick(s, {}, None, NOW - timedelta(minutes=5), NOW)   # new feed
    assert not feedstate.idle_tick(s, later, NOW, NOW - timedelta(minutes=5), NOW)  # a page
    assert not feedstate.idle_tick(settings(poll_adaptive=False), later, None,
                                   NOW - timedelta(minutes=5), NOW)


def test_pace_is_described_for_listings():
    s = settings()
    assert succeeded(dates=every(1, 30)).pace_text(s.poll_interval) == "every 5 min"
    assert FeedState(url=FEED.url).pace_text(s.poll_interval) == "every 30 min"   # new
    assert FeedState(url=FEED.url, poll_every=7200).pace_text(s.poll_interval) == "every 2.0 h"


# --- a real cycle on the real scheduler, on an injected clock ----------------------------

@pytest.fixture
def fake_clock(monkeypatch):
    """The clock APScheduler reads (as in tests/test_scheduler.py) and the cycles get."""
    return scheduler_reads(FakeClock(NOW), monkeypatch)


def serve_rhythm(srv, path: str, clock: FakeClock, every: timedelta, shows: int) -> None:
    """A feed that published every ``every`` up to the clock's now, its last
    ``shows`` entries listed (one article link: only the first cycle fetches it)."""
    def handler(req, reply):
        now = clock()
        newest = now - (now - NOW + timedelta(days=30)) % every
        items = [{"title": f"item {i}", "link": srv.url("/article"), "guid": f"{path}/{i}",
                  "pubDate": formatdate((newest - i * every).timestamp(), usegmt=True)}
                 for i in range(shows)]
        reply.send(200, rss(path, items).encode(), {"Content-Type": "application/rss+xml"})
    srv.route(path, handler)


def test_the_real_scheduler_polls_a_fast_feed_more_often_than_a_slow_one(
        tmp_path, fault_server, fake_clock):
    serve_rhythm(fault_server, "/wire.xml", fake_clock, timedelta(minutes=6), shows=20)
    serve_rhythm(fault_server, "/blog.xml", fake_clock, timedelta(days=3), shows=5)
    cfg = write_config(tmp_path, [{"name": "Wire", "url": fault_server.url("/wire.xml")},
                                  {"name": "Blog", "url": fault_server.url("/blog.xml")}],
                       poll_interval="10m",
                       network={"poll_adaptive": True, "poll_min": "1m", "poll_max": "1h"})
    settings = load_settings(cfg, env={"DATABASE_URL": f"sqlite:///{tmp_path}/nw.db"})
    pipeline = cycle.open_pipeline(settings, storage.open_store(settings.database_url))
    ticks, cycles, last = [], [], [None]

    def poll() -> None:                            # what Service.poll does, on the fake clock
        now = fake_clock()
        if not cycle.idle_tick(pipeline, now, last[0]):
            last[0] = now
            cycles.append(cycle.run_cycle(pipeline, now=now))

    schedule = scheduler.create_schedule(settings, poll, lambda: None, clock=fake_clock)
    done = threading.Condition()

    def executed(event) -> None:
        if event.job_id == scheduler.POLL_JOB:
            with done:
                ticks.append(event)
                done.notify_all()

    schedule.scheduler.add_listener(executed, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        schedule.start()
        for minute in range(61):                   # an hour of virtual time, a tick a minute
            with done:
                assert done.wait_for(lambda: len(ticks) > minute, 20), f"tick {minute}"
            fake_clock.advance(timedelta(minutes=1))
            schedule.scheduler.wakeup()
    finally:
        schedule.shutdown(wait=True)
        pipeline.close()
        pipeline.store.close()
    assert not [t for t in ticks if t.exception], [t.exception for t in ticks]
    wire, blog = fault_server.hits["/wire.xml"], fault_server.hits["/blog.xml"]
    # the wire (every 6 min) at a third of that, the blog (every 3 days) at poll_max
    assert 28 <= wire <= 31 and blog == 2, (wire, blog)     # every 2 min; at 0 and 60
    assert len(cycles) == wire < len(ticks)        # the ticks between found nothing due
    states = storage.feed_states(pipeline.store)
    assert states[fault_server.url("/wire.xml")].poll_every == pytest.approx(2 * MIN, rel=0.1)
    assert states[fault_server.url("/blog.xml")].poll_every == HOUR
    # the reading room's feeds page shows each feed's pace
    rows = {r["name"]: r["pace"] for r in views.feeds_page(settings, pipeline.store,
                                                           fake_clock())["feeds"]}
    assert rows == {"Wire": "every 2 min", "Blog": "every 60 min"}
    ok, said = maintenance.health(settings, pipeline.store, fake_clock())
    assert ok and ("2 feeds polled at their pace, fastest Wire every 2 min, slowest Blog "
                   "every 60 min") in said, said


def test_a_database_from_before_gains_the_pace_columns(tmp_path):
    """A database written by wave 1 (the committed fixture, from before the pace
    columns) is upgraded when opened: its feeds have no pace yet, then one."""
    path = tmp_path / "old.db"
    shutil.copy(WAVE1, path)
    store = storage.open_store(f"sqlite:///{path}")
    try:
        old = storage.feed_states(store)
        assert old and all(s.poll_every is None and s.newest_entry_at is None
                           for s in old.values())
        storage.save_feed_states(store, [succeeded(dates=every(60, 10))])
        state = storage.feed_states(store)[FEED.url]
        assert state.poll_every == pytest.approx(20 * MIN) and state.newest_entry_at == NOW
    finally:
        store.close()


def test_the_service_runs_no_cycle_on_a_tick_with_nothing_due(tmp_path, fault_server):
    from pipeline import service as service_mod
    clock = FakeClock(datetime.now(timezone.utc))
    serve_rhythm(fault_server, "/blog.xml", clock, timedelta(days=3), shows=5)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/nw.db"}
    cfg = write_config(tmp_path, [{"name": "Blog", "url": fault_server.url("/blog.xml")}],
                       digest_time="23:59", network={"poll_adaptive": True})
    settings = load_settings(cfg, env=env)
    pipeline = cycle.open_pipeline(settings, storage.open_store(settings.database_url))
    svc = service_mod.Service(service_mod.ConfigWatcher(cfg, env), settings, pipeline)
    try:
        svc.poll()                                 # the first tick polls the new feed
        first = storage.last_cycle(pipeline.store)
        svc.poll()                                 # the next: the blog is due in 2 h
        assert storage.last_cycle(pipeline.store) == first
        assert fault_server.hits["/blog.xml"] == 1
        # a feed added to the config is due at once: the next tick runs a cycle
        serve_rhythm(fault_server, "/wire.xml", clock, timedelta(minutes=6), shows=20)
        write_config(tmp_path, [{"name": "Blog", "url": fault_server.url("/blog.xml")},
                                {"name": "Wire", "url": fault_server.url("/wire.xml")}],
                     digest_time="23:59", network={"poll_adaptive": True}, timezone="Etc/UTC")
        svc.poll()
        assert fault_server.hits["/wire.xml"] == 1 and fault_server.hits["/blog.xml"] == 1
        assert storage.last_cycle(pipeline.store) != first
    finally:
        svc.pipeline.close()
        svc.store.close()

"""Adaptive polling: each feed at the pace it publishes (pipeline/feedstate.py).

The rules are pure functions of the state, the entries' dates, the time and
the config, tested here without a network; then a real cycle through the
real APScheduler, on an injected clock, against tests/faultserver.py shows a
fast feed polled more often than a slow one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pipeline import feedstate
from pipeline.config import FeedSpec, settings_from_mapping
from pipeline.errors import FetchError, HTTPStatusError
from pipeline.fetch.freshness import fresh_for
from pipeline.records import FeedState

NOW = datetime(2024, 12, 9, 12, 0, tzinfo=timezone.utc)
FEED = FeedSpec(name="Wire", url="http://feeds.example/wire")
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
    # hourly for 10 hours: a mean of 54 minutes over the 9 h they cover, a third of it
    state = succeeded(dates=every(60, 10))
    assert state.poll_every == pytest.approx(feedstate.PACE_SHARE * 54 * MIN)
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
    assert wait_of(succeeded(dates=every(1, 30), fresh=3600)) == HOUR
    assert wait_of(succeeded(dates=every(1, 30), fresh=86400)) == 2 * HOUR
    slow = succeeded(dates=every(90, 30), fresh=60)  # paced at a third of 87 minutes
    assert wait_of(slow) == pytest.approx(feedstate.PACE_SHARE * 87 * MIN)


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


def test_backoff_wins_over_a_short_pace_and_the_pace_over_a_short_backoff():
    s = settings(backoff_base="10m", backoff_max="1d")
    state = succeeded(dates=every(1, 30))
    for _ in range(4):                              # 4 failures: 10m * 2**2 = 40 min
        state = feedstate.after_failure(FEED, state, NOW, FetchError("fetch: refused"), s)
    assert wait_of(state) == 40 * MIN and state.poll_every == 5 * MIN
    slow = succeeded(dates=every(7 * 24 * 60, 3))   # paced at 2 hours
    first = feedstate.after_failure(FEED, slow, NOW, FetchError("fetch: refused"), s)
    assert wait_of(first) == 2 * HOUR


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


def test_an_idle_tick_is_skipped_but_a_cycle_runs_every_poll_interval():
    s = settings()
    later = {FEED.url: NOW + timedelta(hours=1)}
    assert feedstate.idle_tick(s, later, None, NOW - timedelta(minutes=5), NOW)
    assert not feedstate.idle_tick(s, later, None, NOW - timedelta(minutes=30), NOW)
    assert not feedstate.idle_tick(s, later, None, None, NOW)          # first tick
    assert not feedstate.idle_tick(s, {}, None, NOW - timedelta(minutes=5), NOW)   # new feed
    assert not feedstate.idle_tick(s, later, NOW, NOW - timedelta(minutes=5), NOW)  # a page
    assert not feedstate.idle_tick(settings(poll_adaptive=False), later, None,
                                   NOW - timedelta(minutes=5), NOW)


def test_pace_is_described_for_listings():
    s = settings()
    assert feedstate.describe_pace(succeeded(dates=every(1, 30)), s) == "every 5 min"
    assert feedstate.describe_pace(None, s) == "every 30 min"
    assert feedstate.describe_pace(FeedState(url=FEED.url, poll_every=7200), s) == "every 2.0 h"

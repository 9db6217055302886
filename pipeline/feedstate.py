"""What is remembered about a feed between cycles, and when it is polled next.

The cycle asks three things here and nothing else: which configured feeds
are due now (:func:`due_feeds`), the state after a poll that worked
(:func:`after_success`) and after one that failed (:func:`after_failure`).
Each is a pure function of the old state, the entries' dates, the time and
the config, so the rules for *when* a feed is polled live in one place and
are tested without a network.

Adaptive polling (``network.poll_adaptive``, after Miniflux's
``entry_frequency`` scheduler, which polls a feed every week / (entries of the
last week), bounded by a minimum and a maximum): each feed gets its own pace
(:func:`pace`), the mean time between its publications as its own entries'
dates show it, polled PACE_SHARE (a third) of that, kept within
``poll_min`` .. ``poll_max``:

* the mean interval: a week over the entries dated within it when the feed
  lists older ones too; the mean gap between its distinct dates when it lists
  less than a week (a wire shows its last 20 items, an hour's worth);
* a feed that stops publishing waits longer (:func:`poll_wait`): a quarter
  of the time since its newest entry, at most QUIET_CAP (4) times its pace
  (a wire at night; a blog that went quiet reaches poll_max anyway);
* no dated entry yet (a new feed, a feed without dates): ``poll_interval``;
* the response's ``Cache-Control: max-age`` / ``Expires``: never sooner
  than that, within ``poll_max``;
* a failing feed waits for the longer of its backoff (:func:`retry_wait`,
  which honours ``Retry-After``) and its pace.

The scheduler ticks every :func:`tick` and each tick polls only the feeds
due within half a tick (:func:`due_feeds`), so a feed is polled at the tick
nearest its due time. With ``poll_adaptive: false`` every feed is polled
every ``poll_interval``, as before.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Sequence

from pipeline.config import FeedSpec, NetworkConfig, Settings
from pipeline.errors import HTTPStatusError
from pipeline.records import FeedState

# how far back the entries' dates count, as in Miniflux
RATE_WINDOW = timedelta(days=7)
# polls per mean publication interval: an item waits a third of it, on average
# a sixth (bench/latency_bench.py measured 1, 1/2 and 1/3)
PACE_SHARE = 1 / 3
# a quiet feed waits at least this share of its quiet stretch (the time since its
# newest entry) ...
QUIET_SHARE = 0.25
# ... but never more than this many times its measured pace: a wire quiet at
# night must not wait so long that the morning's burst overflows what it lists
QUIET_CAP = 4.0


def tick(settings: Settings) -> timedelta:
    """How often the scheduler looks for due feeds: often enough that a feed
    due every poll_min is polled on time."""
    net = settings.network
    if not net.poll_adaptive:
        return settings.poll_interval
    return min(timedelta(seconds=net.poll_min), settings.poll_interval)


def publication_interval(dates: Iterable[datetime], now: datetime) -> float | None:
    """Mean seconds between publications from the entries' dates, or None
    when they say nothing (no date, or one date for all: a feed that stamps
    its entries with the time it was built). Dated entries but none within
    RATE_WINDOW: the window itself (a feed that publishes less than weekly)."""
    dates = sorted({min(d, now) for d in dates if d is not None})
    if not dates:
        return None
    since = now - RATE_WINDOW
    recent = [d for d in dates if d >= since]
    if not recent:
        return RATE_WINDOW.total_seconds()
    if len(recent) < len(dates):      # it lists older entries too: it shows the whole week
        return RATE_WINDOW.total_seconds() / len(recent)
    if len(recent) == 1:
        return None
    # it lists less than a week: the intervals between what it shows
    return (recent[-1] - recent[0]).total_seconds() / (len(recent) - 1)


def pace(state: FeedState, dates: Sequence[datetime] | None, settings: Settings,
         now: datetime) -> float:
    """The measured pace in seconds: PACE_SHARE of the mean time between the
    publications ``dates`` show, within poll_min..poll_max; poll_interval when
    none is dated. ``dates`` None (a 304): the pace it had."""
    net = settings.network
    default = settings.poll_interval.total_seconds()
    if dates is None:
        every = state.poll_every or default
    else:
        interval = publication_interval(dates, now)
        every = default if interval is None else PACE_SHARE * interval
    return min(max(every, net.poll_min), net.poll_max)


def poll_wait(every: float, newest: datetime | None, now: datetime, settings: Settings,
         fresh_for: float | None = None) -> float:
    """Seconds to the next poll of a feed paced ``every``: longer while it is
    quiet (up to QUIET_CAP times), never shorter than the response's freshness,
    never longer than poll_max."""
    net = settings.network
    if newest is not None:
        quiet = QUIET_SHARE * (now - newest).total_seconds()
        every = min(max(every, quiet), QUIET_CAP * every)
    if fresh_for:
        # half a tick more: due_feeds polls up to half a tick early
        every = max(every, fresh_for + tick(settings).total_seconds() / 2)
    return min(max(every, net.poll_min), net.poll_max)


def newest_entry(state: FeedState, dates: Sequence[datetime] | None, now: datetime
                 ) -> datetime | None:
    """The latest publication date seen of this feed (never in the future)."""
    seen = [min(d, now) for d in (dates or ()) if d is not None]
    if state.newest_entry_at is not None:
        seen.append(state.newest_entry_at)
    return max(seen) if seen else None


def due_feeds(feeds: Iterable[FeedSpec], states: Mapping[str, FeedState], now: datetime,
              settings: Settings) -> tuple[list[tuple[FeedSpec, FeedState]], int]:
    """The configured feeds to poll at ``now`` with their states, and how many
    are skipped (waiting for their next poll: backoff, or their own pace).
    Adaptive: due within half a tick counts as due now (the nearest tick),
    except for a failing feed."""
    early = tick(settings) / 2 if settings.network.poll_adaptive else timedelta(0)
    due, skipped = [], 0
    for feed in feeds:
        state = states.get(feed.url) or FeedState(url=feed.url, name=feed.name)
        if is_gone(state):      # a 410: never due again (nor does it wake the scheduler)
            skipped += 1
            continue
        at = due_at(state, settings)
        # a failing feed not even half a tick early: its Retry-After is a promise
        if at and at - (timedelta(0) if state.consecutive_failures else early) > now:
            skipped += 1
        else:
            due.append((feed, state))
    return due, skipped


def due_at(state: FeedState, settings: Settings) -> datetime | None:
    """When a feed is due (None: now). A feed that works never waits longer
    than the config now allows: after an edit of poll_max, or with
    poll_adaptive turned off (only a failing feed's backoff counts then)."""
    at = state.next_poll_at
    if at is None or state.consecutive_failures:
        return at
    if not settings.network.poll_adaptive:
        return None
    if state.last_success_at is not None:
        return min(at, state.last_success_at + timedelta(seconds=settings.network.poll_max))
    return at


def idle_tick(settings: Settings, states: Mapping[str, FeedState],
              first_pending: datetime | None, last_cycle: datetime | None,
              now: datetime) -> bool:
    """Whether a tick may skip its cycle: adaptive, no configured feed due
    (:func:`due_feeds`), no pending page due, and a cycle ran less than
    poll_interval ago (so cycles, and what runs after them, still come at
    least every poll_interval)."""
    if not settings.network.poll_adaptive or last_cycle is None:
        return False
    if now - last_cycle >= settings.poll_interval - tick(settings) / 2:
        return False
    if first_pending is not None and first_pending <= now:
        return False
    due, _skipped = due_feeds(settings.feeds, states, now, settings)
    return not due


def after_success(feed: FeedSpec, state: FeedState, now: datetime, settings: Settings, *,
                  etag: str | None, last_modified: str | None,
                  dates: Sequence[datetime] | None = None,
                  fresh_for: float | None = None) -> FeedState:
    """The poll worked: the run of failures ends, the validators are kept, and
    the next poll is one pace away (not sooner than the response's freshness).
    ``dates``: the entries' publication dates; None for a 304."""
    worked = replace(state, name=feed.name, etag=etag, last_modified=last_modified,
                     consecutive_failures=0, last_error=None, failing_since=None,
                     last_success_at=now, next_poll_at=None,
                     newest_entry_at=newest_entry(state, dates, now))
    net = settings.network
    if not net.poll_adaptive:
        return replace(worked, poll_every=None)
    every = pace(state, dates, settings, now)
    seconds = poll_wait(every, worked.newest_entry_at, now, settings, fresh_for)
    return replace(worked, poll_every=every, next_poll_at=now + timedelta(seconds=seconds))


def after_failure(feed: FeedSpec, state: FeedState, now: datetime, exc: Exception,
                  settings: Settings) -> FeedState:
    """The poll failed: one more failure, and the feed waits (see
    :func:`retry_wait`); adaptive, at least its pace (the backoff wins when longer)."""
    failures = state.consecutive_failures + 1
    wait = retry_wait(failures, exc, settings.network)
    if settings.network.poll_adaptive:
        every = state.poll_every or settings.poll_interval.total_seconds()
        wait = max(wait or timedelta(0), timedelta(seconds=every))
    return replace(state, name=feed.name, consecutive_failures=failures,
                   last_error=str(exc)[:500], failing_since=state.failing_since or now,
                   next_poll_at=now + wait if wait else None)


def retry_wait(failures: int, exc: Exception, network: NetworkConfig) -> timedelta | None:
    """Exponential backoff: a dead feed is polled less and less (up to
    backoff_max); the first failure just waits for the next cycle. A
    server's Retry-After is honoured."""
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    if failures == 1 and not retry_after:
        return None
    wait = min(network.backoff_base * 2 ** (failures - 2), network.backoff_max)
    if retry_after:
        wait = max(wait, min(retry_after, network.backoff_max))
    return timedelta(seconds=wait)


# --- moved, gone and dead feeds ----------------------------------------------
# Separate from the pacing rules above: these say *where* a feed is polled and
# whether its config needs a change, never how often.

def adopt_moved(feeds: Iterable[FeedSpec], states: Mapping[str, FeedState]
                ) -> dict[str, FeedState]:
    """``states`` with the state of a moved feed carried over to its new URL once
    the config names that URL (validators and history follow; the notice ends)."""
    configured = {f.url for f in feeds}
    out = dict(states)
    for old in states.values():
        new = old.moved_to
        if new and new in configured and new not in states and old.url not in configured:
            out[new] = replace(old, url=new, moved_to=None)
    return out


def is_gone(state: FeedState) -> bool:
    """A 410 said so: not polled again until the config names another URL."""
    return state.gone_at is not None


def poll_url(feed: FeedSpec, state: FeedState) -> str:
    """Where the feed is polled: where a permanent redirect said it moved, if one did."""
    return state.moved_to or feed.url


def after_redirect(feed: FeedSpec, state: FeedState, permanent_redirect: str | None
                   ) -> FeedState:
    """After a poll that worked: a 301/308 chain is remembered as the feed's new
    home (a 302/307 is not: the server may change its mind)."""
    if permanent_redirect and permanent_redirect != feed.url:
        return replace(state, moved_to=permanent_redirect)
    return replace(state, not_found_count=0, dead_since=None, gone_at=None)


def after_missing(state: FeedState, now: datetime, exc: Exception, network: NetworkConfig
                  ) -> FeedState:
    """After a failed poll: a 410 marks the feed gone, a run of 404s (by count
    or by time) probably dead; any other failure ends the run of 404s."""
    status = exc.status if isinstance(exc, HTTPStatusError) else None
    if status == 410:
        return replace(state, gone_at=now)
    if status != 404:
        return replace(state, not_found_count=0, dead_since=None)
    count = state.not_found_count + 1
    since = state.failing_since or now
    dead = (count >= network.dead_after_404s
            or now - since >= timedelta(seconds=network.dead_after))
    return replace(state, not_found_count=count,
                   dead_since=(state.dead_since or now) if dead else None)


def health(state: FeedState | None) -> str:
    """The feed's state in words: never polled, gone, probably dead, moved, failing or ok."""
    if state is None or (state.last_success_at is None and not state.consecutive_failures
                         and not state.gone_at):
        return "never polled"
    if state.gone_at:
        return "gone"
    if state.dead_since:
        return "probably dead"
    if state.moved_to:
        return "moved"
    return "failing" if state.consecutive_failures else "ok"

"""What is remembered about a feed between cycles, and when it is polled next.

The cycle asks three things here and nothing else: which configured feeds
are due now (:func:`due_feeds`), the state after a poll that worked
(:func:`after_success`) and after one that failed (:func:`after_failure`).
Each is a pure function of the old state, the time and the config, so the
rules for *when* a feed is polled live in one place and are tested without
a network.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from pipeline.config import FeedSpec, NetworkConfig
from pipeline.errors import HTTPStatusError
from pipeline.records import FeedState


def due_feeds(feeds: Iterable[FeedSpec], states: Mapping[str, FeedState], now: datetime
              ) -> tuple[list[tuple[FeedSpec, FeedState]], int]:
    """The configured feeds to poll at ``now`` with their states, and how many
    are skipped (waiting for their next poll: backoff, or their own pace)."""
    due, skipped = [], 0
    for feed in feeds:
        state = states.get(feed.url) or FeedState(url=feed.url, name=feed.name)
        if state.next_poll_at and state.next_poll_at > now:
            skipped += 1
        else:
            due.append((feed, state))
    return due, skipped


def after_success(feed: FeedSpec, state: FeedState, now: datetime, etag: str | None,
                  last_modified: str | None) -> FeedState:
    """The poll worked: the run of failures ends, the validators are kept."""
    return replace(state, name=feed.name, etag=etag, last_modified=last_modified,
                   consecutive_failures=0, last_error=None, failing_since=None,
                   last_success_at=now, next_poll_at=None)


def after_failure(feed: FeedSpec, state: FeedState, now: datetime, exc: Exception,
                  network: NetworkConfig) -> FeedState:
    """The poll failed: one more failure, and the feed waits (see :func:`retry_wait`)."""
    failures = state.consecutive_failures + 1
    wait = retry_wait(failures, exc, network)
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

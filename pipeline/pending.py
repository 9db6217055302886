"""What waits for a later cycle, and when it comes back.

Two kinds of entries wait (in ``storage.pending``, as :class:`PendingArticle`):

* the deferred: a feed listed more new entries than ``max_new_articles_per_feed``;
  a cycle fetches the newest, the rest wait in the database (the feed need not
  be read again) and later cycles take them, newest first, within the same cap;
* the retried: a page that failed in a way that may pass (a 5xx, a 429, a
  timeout, a connection that failed). It is tried again ``retry_base`` later,
  twice that the next time, up to ``retry_attempts`` more tries; only then is
  it judged on the feed's title and summary, with the reason. Its topic and
  alerts are decided when its page arrives.

Pure decisions only: the cycle does the fetching and storing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.config import NetworkConfig
from pipeline.errors import DeadlineExceeded, FetchError, HTTPStatusError
from pipeline.records import ItemOutcome, PendingArticle


@dataclass
class Retry:
    """A page that failed in a way that may pass: it waits for a later cycle."""

    error: FetchError


@dataclass
class FeedBatch:
    """What one feed's entries came to, stored in one transaction."""

    outcomes: list[ItemOutcome] = field(default_factory=list)
    pending: list[PendingArticle] = field(default_factory=list)  # held for a later cycle
    done: list[str] = field(default_factory=list)     # pending entries decided now
    complete: bool = True                             # False: a stop cut it short
    # (item URL, feed URL, feed name): another feed's stored item this feed carried too
    sources: list[tuple[str, str, str]] = field(default_factory=list)


def transient(exc: FetchError) -> bool:
    """Whether a page's failure may pass by a later cycle: the server is
    overloaded (5xx, 429), slow (a timeout) or unreachable for now. A refused
    address, a 404, a page too large or a redirect loop will not change."""
    if isinstance(exc, HTTPStatusError):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, DeadlineExceeded) or type(exc) is FetchError


def may_retry(exc: FetchError, pending: PendingArticle, net: NetworkConfig) -> bool:
    return transient(exc) and pending.attempts < net.retry_attempts


def retry_at(now: datetime, attempts: int, exc: FetchError, net: NetworkConfig) -> datetime:
    """When a page that has failed ``attempts`` times is tried again: retry_base,
    doubled per failure, or the server's Retry-After if longer (up to backoff_max)."""
    wait = net.retry_base * 2 ** (attempts - 1)
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    return now + timedelta(seconds=min(max(wait, retry_after or 0), net.backoff_max))


def gave_up(exc: FetchError, pending: PendingArticle) -> str:
    """The reason stored with a page judged on its summary."""
    tries = f" (gave up after {pending.attempts + 1} attempts)" if pending.attempts else ""
    return f"{exc}{tries}"


def within_cap(fresh: list[PendingArticle], queued: list[PendingArticle], cap: int
               ) -> tuple[list[PendingArticle], list[PendingArticle]]:
    """(to fetch now, fresh ones to defer): the newest ``cap`` of the fresh and
    the due pending entries (0: no cap). Pending ones over the cap stay as they are."""
    ranked = sorted(fresh + queued, key=_newest_first)
    take, later = (ranked[:cap], ranked[cap:]) if cap else (ranked, [])
    queued_links = {p.entry.link for p in queued}
    return take, [p for p in later if p.entry.link not in queued_links]


def _newest_first(p: PendingArticle) -> tuple:
    """Sort key: dated entries newest first, then the undated in feed order."""
    published = p.entry.published
    return (published is None, -published.timestamp() if published else 0.0)

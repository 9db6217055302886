"""Plain records passed between stages.

Stages take and return these; nothing here knows about HTTP, SQL or files.
SQLModel tables live in ``storage/`` and are turned into these at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class FetchResult:
    """What the fetch stage got for one URL."""

    url: str                      # the URL asked for
    final_url: str                # after redirects
    status: int                   # HTTP status of the last hop (304 when not modified)
    body: bytes = b""             # decoded (un-gzipped) bytes, capped
    content_type: str = ""        # media type without parameters, lower case
    charset: str | None = None    # from the Content-Type header, if any
    etag: str | None = None
    last_modified: str | None = None
    # where a 301/308 chain (every hop permanent) led: the feed has moved there
    permanent_redirect: str | None = None
    fresh_for: float | None = None  # seconds the response says it stays fresh (max-age, Expires)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed, as the feed described it."""

    feed_name: str
    feed_url: str
    link: str                     # absolute URL of the article
    title: str = ""
    summary: str = ""             # plain text (markup removed)
    published: datetime | None = None   # timezone-aware UTC
    guid: str = ""
    source_url: str = ""          # the publisher's site, from RSS <source url="...">
    source_title: str = ""        # its name, from the same element


@dataclass(frozen=True)
class Article:
    """The article behind an entry: extracted text and metadata."""

    url: str
    title: str = ""
    text: str = ""
    author: str | None = None
    site: str | None = None
    language: str | None = None
    # "page" when trafilatura extracted it, "entry" when the feed's own title
    # and summary stand in (page unreachable or empty); ``fallback_reason`` says why.
    source: str = "page"
    fallback_reason: str | None = None


@dataclass(frozen=True)
class TermHit:
    """One matched term: which term of the rule, in which field, where."""

    term: str          # the term as written in the config
    field: str         # "title", "summary" or "text"
    start: int         # character offsets into that field's original text
    end: int
    matched: str       # the text that matched, as it appears


@dataclass(frozen=True)
class RuleMatch:
    rule: str
    hits: tuple[TermHit, ...] = ()

    @property
    def keywords(self) -> list[str]:
        seen: dict[str, None] = {}
        for h in self.hits:
            seen.setdefault(h.matched, None)
        return list(seen)


@dataclass
class CycleSummary:
    """Counts of one poll cycle; printed as the one-line summary."""

    feeds_polled: int = 0
    feeds_failed: int = 0
    feeds_not_modified: int = 0
    feeds_skipped: int = 0        # in backoff
    entries_seen: int = 0
    articles_fetched: int = 0
    new: int = 0
    duplicates: int = 0
    off_topic: int = 0
    failed: int = 0
    alerts: int = 0
    deferred: int = 0             # entries over the per-feed cap, queued for later cycles
    to_retry: int = 0             # pages that failed transiently, queued for a retry
    updates: int = 0              # near-copies that add new sentences (stored as "update")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        secs = ""
        if self.started_at and self.finished_at:
            secs = f" in {(self.finished_at - self.started_at).total_seconds():.1f}s"
        return (f"cycle: feeds {self.feeds_polled} polled, {self.feeds_failed} failed"
                f" ({self.feeds_not_modified} not modified, {self.feeds_skipped} in backoff);"
                f" entries {self.entries_seen} seen{self._waiting()};"
                f" articles {self.articles_fetched} fetched;"
                f" {self.new} new, {self.updates} updates, {self.duplicates} duplicates,"
                f" {self.off_topic} off-topic,"
                f" {self.failed} failed; {self.alerts} alerts{secs}")

    def _waiting(self) -> str:
        parts = [f"{self.deferred} deferred"] if self.deferred else []
        parts += [f"{self.to_retry} to retry"] if self.to_retry else []
        return f" ({', '.join(parts)})" if parts else ""


@dataclass(frozen=True)
class FeedState:
    """What is remembered about a feed between cycles."""

    url: str
    name: str = ""
    etag: str | None = None
    last_modified: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    failing_since: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    moved_to: str | None = None           # a 301/308 said so; polled there until the config follows
    gone_at: datetime | None = None       # a 410 Gone: no longer polled
    not_found_count: int = 0              # 404s in a row
    dead_since: datetime | None = None    # "probably dead": too many 404s, or for too long

    def config_notice(self, shown_moved_to: str = "") -> str | None:
        """What the user should change in the config, in words, or None: the one
        wording of the digest, the reading room and ``newswatch feeds``.
        ``shown_moved_to`` is the new URL as it may be shown (redacted)."""
        if self.gone_at:
            return "gone (410 Gone): no longer polled; remove it or change its URL"
        if self.dead_since:
            return (f"probably dead: {self.not_found_count} 404s in a row; "
                    "polled less and less; check its URL")
        if self.moved_to:
            return f"moved to {shown_moved_to or self.moved_to}: update your config"
        return None
    poll_every: float | None = None          # its pace in seconds (None: every poll_interval)
    newest_entry_at: datetime | None = None  # the latest publication date it listed

    def pace_text(self, poll_interval: timedelta) -> str:
        """"every 12 min": the pace it is polled at (pipeline/feedstate.py)."""
        seconds = self.poll_every or poll_interval.total_seconds()
        if seconds < 90:
            return f"every {seconds:.0f} s"
        if seconds < 5400:
            return f"every {seconds / 60:.0f} min"
        return f"every {seconds / 3600:.1f} h"


@dataclass
class ItemOutcome:
    """The decision about one entry, ready to be stored."""

    entry: FeedEntry
    canonical_url: str
    status: str                       # "new", "update", "duplicate", "off_topic" or "failed"
    fetched_at: datetime
    title: str = ""                   # the verdict's choice (verdict.item_title)
    article: Article | None = None
    duplicate_of: str | None = None   # a stored item's URL or a seed's file name (the
    #                                   original of a duplicate or of an update)
    fingerprint: bytes | None = None
    story_key: str | None = None      # URL of the first item of the same story
    alerts: list[RuleMatch] = field(default_factory=list)
    error: str | None = None
    retained: Retained | None = None  # an off-topic item's text or page, kept for rematch


@dataclass(frozen=True)
class Retained:
    """What is kept of an off-topic item so that ``rematch`` can judge it again:
    its extracted text, or (when it was ruled out before extraction) its page,
    compressed by ``codec`` (pipeline/history.py)."""

    kind: str                         # "text" or "page"
    codec: str                        # "zstd" or "zlib"
    data: bytes


@dataclass(frozen=True)
class StoredItem:
    """An item as read back from the database, for digests and exports."""

    id: int
    url: str
    canonical_url: str
    title: str
    source: str
    feed_url: str
    status: str
    published: datetime | None
    fetched_at: datetime
    summary: str = ""
    text: str = ""
    extraction: str = "page"
    fallback_reason: str | None = None
    duplicate_of: str | None = None
    story_key: str | None = None
    error: str | None = None
    alerts: tuple[RuleMatch, ...] = ()
    also_in: tuple[str, ...] = ()     # names of the other feeds that carried its URL
    first_seen_at: datetime | None = None   # found by rematch: when it was first seen


@dataclass(frozen=True)
class DigestInputs:
    """Everything a digest is built from: what one storage query returns for its window."""

    start: datetime                   # [start, end) of discovery times, UTC
    end: datetime
    items: tuple[StoredItem, ...] = ()          # found in the window, oldest first
    # duplicate_of -> (title, source) of the stored originals the duplicates copied
    originals: dict[str, tuple[str, str]] = field(default_factory=dict)
    failing_feeds: tuple[FeedState, ...] = ()   # configured feeds failing now, oldest first
    feeds_to_update: tuple[FeedState, ...] = ()  # configured feeds moved, gone or dead
    failing_channels: tuple["ChannelState", ...] = ()   # delivery channels failing now
    # what the reader has read before the window, for "new in this report":
    seeds: tuple[tuple[str, str], ...] = ()     # (file name, text) of the seed reports
    earlier: tuple[StoredItem, ...] = ()        # stored before the window, of its stories


@dataclass(frozen=True)
class PendingArticle:
    """An entry whose page is fetched by a later cycle: deferred (over the
    per-feed cap; ``attempts`` 0) or waiting for a retry after a transient
    failure (503, 429, a timeout)."""

    entry: FeedEntry
    canonical_url: str
    attempts: int                     # failed fetches so far
    next_attempt_at: datetime
    last_error: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One message for one channel in the outbox."""

    id: int
    kind: str                     # "alert" (key: the item's id) or "digest" (key: its day)
    key: str
    channel_id: str               # hash of the channel's URL
    channel: str                  # the channel's redacted form
    status: str                   # "pending", "sent" or "failed"
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    item_id: int | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    title: str = ""               # the item's title, for listings


@dataclass(frozen=True)
class ChannelState:
    """A delivery channel's record of success and failure."""

    channel_id: str
    channel: str
    consecutive_failures: int = 0
    last_error: str | None = None
    failing_since: datetime | None = None   # set once it failed max_attempts times in a row
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None


@dataclass(frozen=True)
class LinkAlias:
    """What a link that stands for another (a Google News article id) led to."""

    alias: str                    # the id's path: /rss/articles/<id>
    url: str | None               # the publisher's URL, or the stand-in; None while failing
    status: str                   # "resolved", "stand_in" or "failing"
    attempts: int = 0             # cycles that tried and failed
    last_error: str | None = None


@dataclass(frozen=True)
class Promotion:
    """An off-topic item that the current rules keep: what it becomes."""

    item_id: int
    status: str                      # "new", or "duplicate" of a kept item
    text: str
    fingerprint: bytes | None
    duplicate_of: str | None
    story_key: str | None
    alerts: list[RuleMatch]

"""SQLModel tables. These classes never leave ``storage/``: callers get plain
records from ``pipeline.records``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _utc_column(**kw) -> Column:
    return Column(DateTime(timezone=True), **kw)


class FeedRow(SQLModel, table=True):
    __tablename__ = "feeds"

    url: str = Field(primary_key=True)
    name: str = ""
    etag: str | None = None
    last_modified: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    failing_since: datetime | None = Field(default=None, sa_column=_utc_column())
    last_success_at: datetime | None = Field(default=None, sa_column=_utc_column())
    next_poll_at: datetime | None = Field(default=None, sa_column=_utc_column())
    moved_to: str | None = Field(default=None, sa_column=Column(Text))
    gone_at: datetime | None = Field(default=None, sa_column=_utc_column())
    # a server default: rows written by code from before this column still insert
    not_found_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    dead_since: datetime | None = Field(default=None, sa_column=_utc_column())
    poll_every: float | None = None     # seconds between polls (pipeline/feedstate.py)
    newest_entry_at: datetime | None = Field(default=None, sa_column=_utc_column())


class ItemRow(SQLModel, table=True):
    """One row per entry URL ever seen, whatever became of it."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("url", name="uq_items_url"),
        Index("ix_items_canonical", "canonical_url"),
        Index("ix_items_fetched_status", "fetched_at", "status"),
        # a story's page looks items up by story_key, an item's page its copies
        Index("ix_items_story_key", "story_key"),
        Index("ix_items_duplicate_of", "duplicate_of"),
    )

    id: int | None = Field(default=None, primary_key=True)
    url: str
    canonical_url: str
    guid: str = ""
    title: str = Field(default="", sa_column=Column(Text))
    summary: str = Field(default="", sa_column=Column(Text))
    text: str = Field(default="", sa_column=Column(Text))
    source: str = ""
    feed_url: str = ""
    status: str
    published: datetime | None = Field(default=None, sa_column=_utc_column())
    fetched_at: datetime = Field(sa_column=_utc_column(nullable=False))
    extraction: str = "page"
    fallback_reason: str | None = None
    author: str | None = None
    site: str | None = None
    language: str | None = None
    duplicate_of: str | None = None
    story_key: str | None = None
    fingerprint: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    error: str | None = Field(default=None, sa_column=Column(Text))
    # set when rematch promoted an off-topic item: when it was first seen (fetched_at
    # is then when rematch found it, which puts it in the next digest)
    first_seen_at: datetime | None = Field(default=None, sa_column=_utc_column())


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("item_id", "rule", name="uq_alerts_item_rule"),
                      # the search's alert filter: the items of one rule
                      Index("ix_alerts_rule", "rule", "item_id"))

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    rule: str
    hits: str = Field(default="[]", sa_column=Column(Text))   # JSON list of TermHit
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))


class CycleRow(SQLModel, table=True):
    __tablename__ = "cycles"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_column=_utc_column(nullable=False))
    finished_at: datetime = Field(sa_column=_utc_column(nullable=False, index=True))
    summary: str = Field(default="", sa_column=Column(Text))


class DigestRow(SQLModel, table=True):
    __tablename__ = "digests"

    day: str = Field(primary_key=True)          # YYYY-MM-DD in the configured time zone
    written_at: datetime = Field(sa_column=_utc_column(nullable=False))


class PendingArticleRow(SQLModel, table=True):
    """An entry whose page a later cycle fetches (deferred over the per-feed
    cap, or waiting to retry a transient failure). Not an item yet: it is in
    no digest, export or index until its page (or its last try) decides it.
    A table of its own, so a database made before it gains it by create_all."""

    __tablename__ = "pending_articles"
    __table_args__ = (Index("ix_pending_canonical", "canonical_url"),
                      Index("ix_pending_feed_due", "feed_url", "next_attempt_at"))

    url: str = Field(primary_key=True)
    canonical_url: str
    guid: str = ""
    title: str = Field(default="", sa_column=Column(Text))
    summary: str = Field(default="", sa_column=Column(Text))
    feed_name: str = ""
    feed_url: str = ""
    published: datetime | None = Field(default=None, sa_column=_utc_column())
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=_utc_column(nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class OutboxRow(SQLModel, table=True):
    """One message for one channel: recorded before it is sent, marked after.
    ``channel_id`` is a hash of the channel's URL and ``channel`` its redacted
    form; the URL itself (with its secrets) is never stored."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "key", "channel_id", name="uq_outbox_message"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str                                   # "alert" or "digest"
    key: str                                    # the item's id or the digest's day
    item_id: int | None = Field(default=None, foreign_key="items.id")
    channel_id: str
    channel: str = ""
    status: str = "pending"                     # "pending", "sent" or "failed"
    attempts: int = 0
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    next_attempt_at: datetime = Field(sa_column=_utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column())
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class ChannelRow(SQLModel, table=True):
    """What is remembered about a delivery channel between attempts."""

    __tablename__ = "delivery_channels"

    channel_id: str = Field(primary_key=True)
    channel: str = ""
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    failing_since: datetime | None = Field(default=None, sa_column=_utc_column())
    last_attempt_at: datetime | None = Field(default=None, sa_column=_utc_column())
    last_success_at: datetime | None = Field(default=None, sa_column=_utc_column())


class LinkAliasRow(SQLModel, table=True):
    """A link that stands for another: a Google News article id (its path,
    ``/rss/articles/<id>``, whatever host served it) and the publisher's URL
    behind it. Kept for good, so that no id is ever resolved (or its article
    fetched) twice; ``status`` "failing" counts the cycles that tried."""

    __tablename__ = "link_aliases"

    alias: str = Field(primary_key=True)
    url: str | None = Field(default=None, sa_column=Column(Text))  # None while failing
    status: str = "resolved"                    # "resolved", "stand_in" or "failing"
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(sa_column=_utc_column(nullable=False))


class ItemSourceRow(SQLModel, table=True):
    """Another feed that carried a stored item's URL (one article reached through
    two feeds is one item; the item's own ``feed_url`` is its first source)."""

    __tablename__ = "item_sources"

    url: str = Field(primary_key=True)          # the item's entry URL
    feed_url: str = Field(primary_key=True)
    feed_name: str = ""
    seen_at: datetime = Field(sa_column=_utc_column(nullable=False))


from storage import history  # noqa: E402,F401  (registers the retention store's table)
from storage import leases as _leases  # noqa: E402,F401  (registers its tables)

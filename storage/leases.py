"""Several replicas on one PostgreSQL: who polls which feed, who writes the
day's digest, and what each replica last did.

* ``feed_leases``: one row per feed URL. A replica claims due feeds with
  ``SELECT … FOR UPDATE SKIP LOCKED`` over the rows whose lease is free or
  expired, then stamps them with its id and ``lease_until``; two replicas
  claiming at once never get the same row (the second skips the rows the first
  has locked, and sees them leased once the first commits). A replica killed
  with its leases held loses them when ``lease_until`` passes.
* the digest lock: a PostgreSQL advisory lock held while a day's digest is
  checked, written and recorded, so the day is written once whoever is first.
* ``replicas``: one row per running replica (its id, start, last heartbeat,
  last cycle and its summary) for ``newswatch health``.

On SQLite (one process, the cycle lock) the same functions work and nothing
contends for the rows.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Iterator

from sqlalchemy import Column, Text, text, update
from sqlmodel import Field, SQLModel, select

from storage.dialect import _chunks, _insert, _utc
from storage.models import _utc_column

DIGEST_LOCK = 74211     # the cycle lock is 74210 (storage/store.py)


class FeedLeaseRow(SQLModel, table=True):
    __tablename__ = "feed_leases"

    feed_url: str = Field(primary_key=True)
    claimed_by: str | None = None
    lease_until: datetime | None = Field(default=None, sa_column=_utc_column(index=True))


class ReplicaRow(SQLModel, table=True):
    __tablename__ = "replicas"

    id: str = Field(primary_key=True)
    started_at: datetime = Field(sa_column=_utc_column(nullable=False))
    last_seen: datetime = Field(sa_column=_utc_column(nullable=False))
    last_cycle_at: datetime | None = Field(default=None, sa_column=_utc_column())
    last_summary: str = Field(default="", sa_column=Column(Text))


def claim_feeds(store, replica: str, urls: list[str], now: datetime,
                lease_until: datetime, limit: int | None = None) -> list[str]:
    """Lease to ``replica`` those of ``urls`` (at most ``limit``, in URL
    order) no other replica holds a live lease on; returns the URLs claimed
    (its own live leases included)."""
    urls = list(dict.fromkeys(urls))
    limit = len(urls) if limit is None else limit
    insert = _insert(store)
    claimed: list[str] = []
    with store.session() as s:
        for part in _chunks(urls):
            if len(claimed) >= limit:
                break
            s.exec(insert(FeedLeaseRow).values([{"feed_url": u} for u in part])
                   .on_conflict_do_nothing(index_elements=["feed_url"]))
            free = (select(FeedLeaseRow.feed_url)
                    .where(FeedLeaseRow.feed_url.in_(part),
                           (FeedLeaseRow.lease_until.is_(None))
                           | (FeedLeaseRow.lease_until <= now)
                           | (FeedLeaseRow.claimed_by == replica))
                    # the limit in SQL: FOR UPDATE locks every row it returns, and
                    # a row locked here is one the other replicas skip
                    .order_by(FeedLeaseRow.feed_url).limit(limit - len(claimed))
                    .with_for_update(skip_locked=True))
            got = list(s.exec(free))
            if got:
                s.exec(update(FeedLeaseRow).where(FeedLeaseRow.feed_url.in_(got))
                       .values(claimed_by=replica, lease_until=lease_until))
            claimed += got
    return claimed


def release_feeds(store, replica: str, urls: list[str]) -> int:
    """End ``replica``'s leases on ``urls`` (those it still holds); returns how many."""
    released = 0
    with store.session() as s:
        for part in _chunks(urls):
            res = s.exec(update(FeedLeaseRow)  # type: ignore[call-overload]
                         .where(FeedLeaseRow.feed_url.in_(part),
                                FeedLeaseRow.claimed_by == replica,
                                FeedLeaseRow.lease_until.is_not(None))
                         .values(lease_until=None))
            released += res.rowcount or 0
    return released


def feed_leases(store, now: datetime) -> dict[str, str]:
    """Feed URL -> the replica holding a live lease on it."""
    with store.session() as s:
        rows = s.exec(select(FeedLeaseRow).where(FeedLeaseRow.lease_until > now)).all()
        return {r.feed_url: r.claimed_by or "" for r in rows}


@contextlib.contextmanager
def digest_lock(store) -> Iterator[None]:
    """Held while a digest is decided, written and recorded: on PostgreSQL an
    advisory lock (a second replica waits, then finds the day written); on
    SQLite nothing (one process, and the service's own lock)."""
    if store.is_sqlite:
        yield
        return
    with store.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": DIGEST_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": DIGEST_LOCK})
            conn.commit()


def record_replica(store, replica: str, started_at: datetime, now: datetime,
                   cycle_at: datetime | None = None, summary: str | None = None) -> None:
    """The replica's heartbeat, with its last cycle when one just finished."""
    with store.session() as s:
        row = s.get(ReplicaRow, replica) or ReplicaRow(id=replica, started_at=started_at,
                                                       last_seen=now)
        row.last_seen = now
        if cycle_at is not None:
            row.last_cycle_at = cycle_at
        if summary is not None:
            row.last_summary = summary
        s.add(row)


def live_replicas(store, since: datetime) -> int:
    """How many replicas were seen at or after ``since``."""
    with store.session() as s:
        return len(s.exec(select(ReplicaRow.id).where(ReplicaRow.last_seen >= since)).all())


def replica_rows(store) -> list[tuple[str, datetime, datetime, datetime | None, str]]:
    """(id, started_at, last_seen, last_cycle_at, last_summary), latest seen first."""
    with store.session() as s:
        rows = s.exec(select(ReplicaRow).order_by(ReplicaRow.last_seen.desc())).all()
        return [(r.id, _utc(r.started_at), _utc(r.last_seen), _utc(r.last_cycle_at),
                 r.last_summary) for r in rows]


class RoundTrips:
    """Counts the statements sent to the database (for bench/scale_bench.py)."""

    def __init__(self, store):
        self.count = 0
        from sqlalchemy import event
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args, **_kw) -> None:
        self.count += 1

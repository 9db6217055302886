"""Which replica polls which feed, when several ``newswatch run`` share one
PostgreSQL (``DATABASE_URL=postgresql+psycopg://…``) and nothing else.

Each replica keeps its own APScheduler for *when*; the database decides
*who*. At the start of a cycle the replica leases the feeds that
:mod:`pipeline.feedstate` finds due (``storage.claim_feeds``: ``FOR UPDATE
SKIP LOCKED``), reads their state again (another replica may just have
polled one), keeps those still due, and releases its leases when the cycle
ends. A replica killed mid-cycle keeps its leases until ``network.feed_lease``
passes; then the others take its feeds over. Items stay stored once by the
unique URL (the last line of defence), digests once by ``storage.digest_lock``
and each outbox row is sent once by the outbox's conditional claim.

SQLite stays single-process: the cycle lock (``storage.cycle_lock``) is the
exclusivity there, and nothing here runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

import storage
from pipeline import feedstate
from pipeline.config import FeedSpec, Settings
from pipeline.errors import StorageError
from pipeline.records import FeedState, PendingArticle

log = logging.getLogger("newswatch.leases")
Due = list[tuple[FeedSpec, FeedState]]
_identity: tuple[int, str] | None = None


def replica_id() -> str:
    """This process's name among the replicas: host, pid and a random tail
    (a restarted container may get the same pid)."""
    global _identity
    if _identity is None or _identity[0] != os.getpid():
        _identity = (os.getpid(), f"{socket.gethostname()}-{os.getpid()}-"
                                  f"{uuid.uuid4().hex[:6]}")
    return _identity[1]


def shared(store: storage.Store) -> bool:
    """Several replicas may share this database (PostgreSQL)."""
    return not store.is_sqlite


def cycle_guard(store: storage.Store):
    """What keeps two cycles apart: the cycle lock on SQLite; on PostgreSQL
    nothing here (leases keep feeds apart, replicas cycle side by side)."""
    if shared(store):
        return contextlib.nullcontext()
    return storage.cycle_lock(store, wait=0)


def claim_due(store: storage.Store, settings: Settings, due: Due,
              queued: dict[str, list[PendingArticle]], now: datetime
              ) -> tuple[Due, dict[str, list[PendingArticle]]]:
    """The due feeds and pending pages this replica polls: those it could
    lease, with their state read again after the lease. Unchanged on SQLite."""
    if not shared(store):
        return due, queued
    me, clock = replica_id(), datetime.now(timezone.utc)
    until = clock + timedelta(seconds=settings.network.feed_lease)
    wanted = [f.url for f, _ in due] + list(queued)
    # a fair share, not all: the replica first to cycle would otherwise take every
    # feed, and the others' cycles would find nothing left
    live = storage.live_replicas(store, clock - 2 * settings.poll_interval) or 1
    got = set(storage.claim_feeds(store, me, wanted, clock, until,
                                  limit=-(-len(wanted) // live)))
    states = storage.feed_states(store) if got else {}
    mine, _ = feedstate.due_feeds([f for f, _ in due if f.url in got], states, now, settings)
    if live > 1:
        mine = [(f, s) for f, s in mine if not _polled_lately(s, settings, now)]
    mine_urls = {f.url for f, _ in mine}
    kept = {url: q for url, q in queued.items() if url in got}
    for feed, _ in due:        # leased but polled meanwhile: only its pages, if any
        if feed.url in got and feed.url not in mine_urls and feed.url in queued:
            kept[feed.url] = queued[feed.url]
    log.debug("leases: %s polls %d of %d due feeds", me, len(mine), len(due))
    return mine, kept


def _polled_lately(state: FeedState, settings: Settings, now: datetime) -> bool:
    """With fixed polling (poll_adaptive off) a feed that works is due at every
    tick; among several replicas, one polled within half an interval (by another
    replica) is not polled again. Adaptive polling paces it by next_poll_at."""
    if settings.network.poll_adaptive or state.consecutive_failures:
        return False
    last = state.last_success_at
    return last is not None and now - last < settings.poll_interval / 2


def release(store: storage.Store, urls: list[str]) -> None:
    """End this replica's leases (at the end of its cycle); a failure only
    leaves them to expire."""
    if not shared(store) or not urls:
        return
    try:
        storage.release_feeds(store, replica_id(), urls)
    except StorageError as exc:
        log.warning("%s (the leases expire by themselves)", exc)


@contextlib.contextmanager
def digest_once(store: storage.Store) -> Iterator[None]:
    """Around deciding and writing a digest: one replica at a time, so the
    second finds the day already written."""
    with storage.digest_lock(store):
        yield


def heartbeat(store: storage.Store, started_at: datetime, summary=None) -> None:
    """Record this replica for ``health`` (after each cycle, with its summary)."""
    if not shared(store):
        return
    now = datetime.now(timezone.utc)
    try:
        storage.record_replica(store, replica_id(), started_at, now,
                               cycle_at=summary.finished_at if summary else None,
                               summary=summary.line() if summary else None)
    except Exception as exc:  # noqa: BLE001  health is informative; the cycle is done
        log.warning("leases: could not record replica %s: %s", replica_id(), exc)


def replicas_report(store: storage.Store, now: datetime, stale: timedelta) -> str:
    """One line per replica seen within ``stale``, for ``newswatch health``."""
    if not shared(store):
        return ""
    lines = []
    for rid, started, seen, cycle_at, summary in storage.replica_rows(store):
        if now - seen > stale:
            continue
        when = cycle_at.isoformat(timespec="seconds") if cycle_at else "no cycle yet"
        lines.append(f"\n  replica {rid}: started {started:%Y-%m-%d %H:%M:%S}, last seen "
                     f"{seen:%H:%M:%S}, last cycle {when}: {summary or '-'}")
    return "".join(lines)

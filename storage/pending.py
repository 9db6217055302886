"""Entries whose page a later cycle fetches: the SQL of the ``pending_articles`` table.

An entry waits here when its feed listed more new entries than a cycle takes
(deferred) or when its page failed in a way that may pass (503, 429, a
timeout): it is not an item yet, so no digest, export or index sees it, and
the seen-URL check skips it so that only the pending path fetches it again.
An entry enters and leaves this table in the same transaction as the feed
state or the item that replaces it, so a crash never loses one nor stores one
twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, func, or_
from sqlmodel import select

from pipeline.records import FeedEntry, FeedState, ItemOutcome, PendingArticle
from storage.models import PendingArticleRow
from storage.queries import _chunks, _insert_outcomes, _upsert_feed, _utc
from storage.store import Store


def pending_entry_urls(store: Store, urls: Iterable[str]) -> dict[str, str]:
    """Those of ``urls`` that are pending, as an entry URL or a canonical URL,
    each mapped to the pending entry's URL."""
    urls = list(dict.fromkeys(urls))
    wanted, found = set(urls), {}
    with store.session() as s:
        for part in _chunks(urls):
            q = select(PendingArticleRow.url, PendingArticleRow.canonical_url).where(
                or_(PendingArticleRow.url.in_(part), PendingArticleRow.canonical_url.in_(part)))
            for url, canonical in s.exec(q):
                for key in (url, canonical):
                    if key in wanted:
                        found.setdefault(key, url)
    return found


def due_pending_articles(store: Store, now: datetime) -> dict[str, list[PendingArticle]]:
    """feed URL -> its pending entries whose next attempt is due at ``now``,
    newest first (an entry without a date last)."""
    out: dict[str, list[PendingArticle]] = {}
    with store.session() as s:
        q = (select(PendingArticleRow).where(PendingArticleRow.next_attempt_at <= now)
             .order_by(PendingArticleRow.feed_url, PendingArticleRow.published.desc()))
        for row in s.exec(q):
            out.setdefault(row.feed_url, []).append(_pending(row))
    for items in out.values():   # NULLs sort differently in SQLite and PostgreSQL
        items.sort(key=lambda p: p.entry.published is None)
    return out


def count_pending_articles(store: Store) -> int:
    with store.session() as s:
        return int(s.exec(select(func.count()).select_from(PendingArticleRow)).one())


def save_feed_batch_with_pending(store: Store, state: FeedState | None,
                                 outcomes: list[ItemOutcome], pending: list[PendingArticle],
                                 done: Iterable[str] = ()) -> int:
    """One transaction: store ``outcomes`` (as ``storage.save_feed_batch``), hold
    ``pending`` for a later cycle (inserted, or rescheduled if already there),
    drop the pending entries ``done`` (decided now) and, unless None, save the
    feed's ``state``. Returns the number of new items."""
    with store.session() as s:
        added = _insert_outcomes(s, store, outcomes)
        for part in _chunks(list(dict.fromkeys(done))):
            s.exec(delete(PendingArticleRow)  # type: ignore[call-overload]
                   .where(PendingArticleRow.url.in_(part)))
        rows: dict[str, PendingArticleRow] = {}
        for part in _chunks([p.entry.link for p in pending]):
            q = select(PendingArticleRow).where(PendingArticleRow.url.in_(part))
            rows.update((r.url, r) for r in s.exec(q))
        for p in pending:
            s.add(_row(rows.get(p.entry.link) or PendingArticleRow(url=p.entry.link), p))
        if state is not None:
            _upsert_feed(s, state)
    return added


def _row(row: PendingArticleRow, p: PendingArticle) -> PendingArticleRow:
    e = p.entry
    row.canonical_url, row.guid, row.title, row.summary = (p.canonical_url, e.guid,
                                                           e.title, e.summary)
    row.feed_name, row.feed_url, row.published = e.feed_name, e.feed_url, e.published
    row.attempts, row.next_attempt_at = p.attempts, p.next_attempt_at
    row.last_error = p.last_error[:500] if p.last_error else None
    return row


def _pending(r: PendingArticleRow) -> PendingArticle:
    entry = FeedEntry(feed_name=r.feed_name, feed_url=r.feed_url, link=r.url, title=r.title,
                      summary=r.summary, published=_utc(r.published), guid=r.guid)
    return PendingArticle(entry=entry, canonical_url=r.canonical_url, attempts=r.attempts,
                          next_attempt_at=_utc(r.next_attempt_at), last_error=r.last_error)

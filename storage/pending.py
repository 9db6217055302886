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

from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import delete, func, or_
from sqlmodel import select

from pipeline.records import FeedEntry, FeedState, ItemOutcome, PendingArticle
from storage.models import PendingArticleRow
from storage.links import add_item_sources
from storage.dialect import _chunks, _insert, _utc
from storage.queries import _insert_outcomes, _upsert_feed
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


def due_pending_articles(store: Store, now: datetime, per_feed: int = 0
                         ) -> dict[str, list[PendingArticle]]:
    """feed URL -> its pending entries whose next attempt is due at ``now``,
    newest first (an entry without a date last), at most ``per_feed`` (0: all)."""
    out: dict[str, list[PendingArticle]] = {}
    due = PendingArticleRow.next_attempt_at <= now
    with store.session() as s:
        feeds = s.exec(select(PendingArticleRow.feed_url).where(due).distinct()).all()
        for feed_url in feeds:
            q = (select(*_COLUMNS).where(PendingArticleRow.feed_url == feed_url, due)
                 .order_by(PendingArticleRow.published.is_(None),
                           PendingArticleRow.published.desc(), PendingArticleRow.url))
            rows = s.exec(q.limit(per_feed) if per_feed else q).all()
            out[feed_url] = [_pending(*row) for row in rows]
    return out


def count_pending_articles(store: Store) -> int:
    with store.session() as s:
        return int(s.exec(select(func.count()).select_from(PendingArticleRow)).one())


def save_feed_batch_with_pending(store: Store, state: FeedState | None,
                                 outcomes: list[ItemOutcome], pending: list[PendingArticle],
                                 done: Iterable[str] = (),
                                 sources: Iterable[tuple[str, str, str]] = ()) -> int:
    """One transaction: store ``outcomes`` (as ``storage.save_feed_batch``), hold
    ``pending`` for a later cycle (inserted, or rescheduled if already there),
    drop the pending entries ``done`` (decided now) and, unless None, save the
    feed's ``state``, and record ``sources`` (as ``save_feed_batch``). Returns the
    number of new items."""
    with store.session() as s:
        added = _insert_outcomes(s, store, outcomes)
        add_item_sources(s, store, sources, datetime.now(timezone.utc))
        for part in _chunks(list(dict.fromkeys(done))):
            s.exec(delete(PendingArticleRow)  # type: ignore[call-overload]
                   .where(PendingArticleRow.url.in_(part)))
        _hold(s, store, pending)
        if state is not None:
            _upsert_feed(s, state)
    return added


_COLUMNS = (PendingArticleRow.url, PendingArticleRow.canonical_url, PendingArticleRow.guid,
            PendingArticleRow.title, PendingArticleRow.summary, PendingArticleRow.feed_name,
            PendingArticleRow.feed_url, PendingArticleRow.published, PendingArticleRow.attempts,
            PendingArticleRow.next_attempt_at, PendingArticleRow.last_error)


def _hold(s, store: Store, pending: list[PendingArticle]) -> None:
    """Insert ``pending``, or reschedule those already there (a feed of 20,000
    new entries defers 19,800 at once: one statement for all)."""
    if not pending:
        return
    insert = _insert(store)
    rows = list({p.entry.link: _values(p) for p in pending}.values())
    stmt = insert(PendingArticleRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["url"], set_={k: stmt.excluded[k] for k in rows[0] if k != "url"})
    # one statement, many parameter sets: compiled once, sent in batches
    s.connection().execute(stmt, rows)


def _values(p: PendingArticle) -> dict:
    e = p.entry
    return dict(url=e.link, canonical_url=p.canonical_url, guid=e.guid, title=e.title,
                summary=e.summary, feed_name=e.feed_name, feed_url=e.feed_url,
                published=e.published, attempts=p.attempts, next_attempt_at=p.next_attempt_at,
                last_error=p.last_error[:500] if p.last_error else None)


def _pending(url, canonical_url, guid, title, summary, feed_name, feed_url, published,
             attempts, next_attempt_at, last_error) -> PendingArticle:
    entry = FeedEntry(feed_name=feed_name, feed_url=feed_url, link=url, title=title or "",
                      summary=summary or "", published=_utc(published), guid=guid or "")
    return PendingArticle(entry=entry, canonical_url=canonical_url, attempts=attempts,
                          next_attempt_at=_utc(next_attempt_at), last_error=last_error)

"""Link aliases (Google News ids and the publisher's URL behind each) and the
other feeds that carried a stored item's URL (``item_sources``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from sqlmodel import select

from pipeline.records import LinkAlias
from storage.dialect import _chunks, _insert
from storage.models import ItemRow, ItemSourceRow, LinkAliasRow
from storage.store import Store

def link_aliases(store: Store, aliases: Iterable[str]) -> dict[str, LinkAlias]:
    """alias -> what is known of it, for those of ``aliases`` seen before."""
    wanted = list(dict.fromkeys(aliases))
    found: dict[str, LinkAlias] = {}
    with store.session() as s:
        for part in _chunks(wanted):
            for r in s.exec(select(LinkAliasRow).where(LinkAliasRow.alias.in_(part))):
                found[r.alias] = LinkAlias(alias=r.alias, url=r.url, status=r.status,
                                           attempts=r.attempts, last_error=r.last_error)
    return found


def save_link_aliases(store: Store, aliases: Iterable[LinkAlias],
                      now: datetime | None = None) -> None:
    """Insert or replace ``aliases``, in one transaction."""
    rows = [dict(alias=a.alias, url=a.url, status=a.status, attempts=a.attempts,
                 last_error=a.last_error, updated_at=now or datetime.now(timezone.utc))
            for a in aliases]
    if not rows:
        return
    insert = _insert(store)
    with store.session() as s:
        for part in _chunks(rows):
            stmt = insert(LinkAliasRow).values(part)
            stmt = stmt.on_conflict_do_update(
                index_elements=["alias"],
                set_={k: stmt.excluded[k] for k in ("url", "status", "attempts", "last_error",
                                                   "updated_at")})
            s.exec(stmt)  # type: ignore[call-overload]


def add_item_sources(s, store: Store, sources: Iterable[tuple[str, str, str]],
                     now: datetime) -> None:
    """Record (item URL, feed URL, feed name) in session ``s``; a pair already
    recorded is kept as it was."""
    rows = [dict(url=u, feed_url=f, feed_name=n, seen_at=now)
            for u, f, n in dict.fromkeys(sources)]
    for part in _chunks(rows):
        s.exec(_insert(store)(ItemSourceRow).values(part)  # type: ignore[call-overload]
               .on_conflict_do_nothing(index_elements=["url", "feed_url"]))


def carried_by_other_feeds(store: Store, feed_url: str, urls: Iterable[str]) -> set[str]:
    """Those of ``urls`` stored as items of another feed than ``feed_url`` and
    not yet recorded as carried by it."""
    wanted = list(dict.fromkeys(urls))
    found: set[str] = set()
    with store.session() as s:
        for part in _chunks(wanted):
            q = select(ItemRow.url).where(ItemRow.url.in_(part), ItemRow.feed_url != feed_url)
            found.update(s.exec(q))
            known = select(ItemSourceRow.url).where(ItemSourceRow.url.in_(part),
                                                    ItemSourceRow.feed_url == feed_url)
            found.difference_update(s.exec(known))
    return found


def other_sources(s, rows: list) -> dict[str, tuple[str, ...]]:
    """item URL -> names of the other feeds that carried it, for ItemRows ``rows``
    (read in session ``s``)."""
    own = {r.url: r.feed_url for r in rows}
    out: dict[str, list[str]] = {}
    for part in _chunks(list(own)):
        q = (select(ItemSourceRow.url, ItemSourceRow.feed_url, ItemSourceRow.feed_name)
             .where(ItemSourceRow.url.in_(part)).order_by(ItemSourceRow.seen_at))
        for url, feed_url, name in s.exec(q):
            if feed_url != own[url]:
                out.setdefault(url, []).append(name or feed_url)
    return {k: tuple(v) for k, v in out.items()}

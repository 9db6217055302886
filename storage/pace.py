"""What an idle scheduler tick reads to decide there is nothing to do: when
each feed is due and when the first pending page is. Two SELECTs of a few
columns, nothing written (pipeline/feedstate.py decides from them)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from sqlalchemy import event, func
from sqlmodel import select

from pipeline.records import FeedState
from storage.models import FeedRow, PendingArticleRow
from storage.dialect import _utc
from storage.store import Store


def poll_schedule(store: Store) -> tuple[dict[str, FeedState], datetime | None]:
    """Each feed's state as far as when it is due goes (next poll, failures,
    last success), and the earliest next attempt of a pending article page
    (None: none pending)."""
    cols = (FeedRow.url, FeedRow.next_poll_at, FeedRow.consecutive_failures,
            FeedRow.last_success_at)
    with store.session() as s:
        states = {url: FeedState(url=url, next_poll_at=_utc(at), consecutive_failures=failures,
                                 last_success_at=_utc(success))
                  for url, at, failures, success in s.exec(select(*cols))}
        first = s.exec(select(func.min(PendingArticleRow.next_attempt_at))).one()
    return states, _utc(first)


@contextmanager
def counting_statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements run on ``store`` while inside, for benchmarks that
    say what a step costs in statements."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)

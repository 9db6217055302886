"""What SQLite and PostgreSQL make every query module do alike: IN lists cut
into chunks (SQLite allows 32k bound parameters), datetimes read back as UTC
(SQLite hands them back naive) and the dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

_CHUNK = 500   # keep IN lists well below SQLite's limit


def _chunks(values: list) -> Iterator[list]:
    """``values`` in slices of at most _CHUNK, for IN lists."""
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _insert(store):
    """The INSERT with ``on_conflict_do_nothing`` / ``do_update`` of ``store``'s dialect."""
    return pg_insert if store.engine.dialect.name == "postgresql" else sqlite_insert

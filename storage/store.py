"""Opening the database: SQLite (WAL, busy timeout) by default, PostgreSQL
when ``DATABASE_URL`` names one. Also the cross-process cycle lock."""

from __future__ import annotations

import contextlib
import fcntl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, create_engine

from pipeline.errors import CycleLocked, StorageError
from storage import models  # noqa: F401  (registers the tables)
from storage.migrate import migrate, upgrade_database

BUSY_TIMEOUT_MS = 30_000


@dataclass
class Store:
    engine: Engine
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def shown_url(self) -> str:
        """The database URL safe to log: the password hidden."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        db = make_url(self.url).database
        return Path(db) if db and db != ":memory:" else None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        try:
            with Session(self.engine, expire_on_commit=False) as s:
                yield s
                s.commit()
        except SQLAlchemyError as exc:
            raise StorageError(_describe(exc)) from exc

    def close(self) -> None:
        self.engine.dispose()


def open_store(database_url: str, *, upgrade: bool = True) -> Store:
    """Connect, bring the schema to head (storage.migrate; ``upgrade=False`` for
    ``newswatch migrate``, which does it itself), and set SQLite up for one
    writer and many readers."""
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise StorageError(f"DATABASE_URL {database_url!r} is not a database URL") from exc
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise StorageError(f"cannot use {url.get_backend_name()}: {exc}") from exc
    try:
        if upgrade:
            migrate(engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open {url.render_as_string(hide_password=True)}: "
                           f"{_describe(exc)}") from exc
    return Store(engine=engine, url=database_url)


def upgrade_schema(store: Store) -> tuple[str | None, str]:
    """``newswatch migrate``: the schema's revision before and after (None: a
    database made before revisions, or a new one)."""
    try:
        return upgrade_database(store.engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate {store.shown_url}: {_describe(exc)}") from exc


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the digest read while a cycle writes; the busy timeout makes a
    # second writer wait instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _describe(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]


@contextlib.contextmanager
def cycle_lock(store: Store, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the one-cycle-at-a-time lock for this database, waiting up to ``wait`` s.

    SQLite: an flock on ``<database>.lock`` (released by the kernel if the
    process dies, so a SIGKILL never leaves it stuck). PostgreSQL: a session
    advisory lock.
    """
    if store.is_sqlite:
        path = store.sqlite_path
        if path is None:
            yield
            return
        with open(f"{path}.lock", "a+") as fh:
            _flock(fh, wait, path)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with store.engine.connect() as conn:
        deadline = time.monotonic() + wait
        while not conn.execute(text("SELECT pg_try_advisory_lock(74210)")).scalar():
            if time.monotonic() >= deadline:
                raise CycleLocked("another newswatch cycle is running on this database")
            time.sleep(0.2)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(74210)"))
            conn.commit()


def _flock(fh, wait: float, path: Path) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise CycleLocked(f"another newswatch cycle is running on {path}"
                                  f" (pid lock {path}.lock)") from None
            time.sleep(0.2)


def integrity_check(store: Store) -> str:
    """SQLite's own check; "ok" when the file is sound."""
    if not store.is_sqlite:
        return "ok"
    with store.engine.connect() as conn:
        return str(conn.execute(text("PRAGMA integrity_check")).scalar())


__all__ = ["Store", "open_store", "cycle_lock", "CycleLocked", "integrity_check"]

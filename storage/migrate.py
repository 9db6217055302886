"""The schema's versions: Alembic, for SQLite and PostgreSQL alike, applied
when a database is opened (and by ``newswatch migrate``).

* A new database is created at head from the models (``create_all``) and
  stamped head: no revision runs on an empty database.
* A database from before Alembic (wave 1: tables, no ``alembic_version``) is
  brought to the baseline (indexes older versions lacked), stamped ``0001``,
  then upgraded: nothing in it is rewritten or lost.
* A database at a revision this code does not know (written by a newer
  Newswatch) is refused with a StorageError: an older version must not write
  to a schema it does not understand.

Every open reads the revision first and does nothing more when it is head,
because every command opens the database. Migrating holds a lock, so two
processes (two replicas starting together) migrate once: an flock on
``<database>.migrate.lock`` for SQLite, a transaction advisory lock for
PostgreSQL; the second finds the work done.

Adding a revision (when a model gains a column or a table): write
``storage/alembic/versions/NNNN_what.py`` with ``down_revision`` the current
head (``python -m storage.migrate`` prints it); for SQLite use
``op.batch_alter_table`` for anything beyond adding a nullable column; then
``tests/test_migrations.py`` proves the wave-1 fixture upgrades to exactly the
models on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
from pathlib import Path
from typing import Iterator

from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from pipeline.errors import StorageError
from storage.search import ensure_search_index, ensure_search_tables

SCRIPTS = Path(__file__).with_name("alembic")
BASELINE = "0001"
# the newest revision in alembic/versions, said here so that an open at head
# never imports Alembic (~100 ms); tests/test_migrations.py checks it is Alembic's head
HEAD = "0002"
log = logging.getLogger("newswatch.storage")
logging.getLogger("alembic").setLevel(logging.WARNING)   # its steps; we say what was done
_LOCK_KEY = 74212        # PostgreSQL advisory lock of migrations (74210: cycles, 74211: digest)
# the search index's tables are made by raw SQL (FTS5 / tsvector): not in the models
_SEARCH_TABLES = ("search_", "item_search")
# added to existing tables by earlier versions' open, before Alembic: a database
# older than wave 1 may lack them, and they belong to the baseline
# the tables of wave 1 that earlier versions could lack (create_all made each when
# its feature came); feeds and items were there from the start, and 0002 alters them
_BASELINE_TABLES = ("alerts", "cycles", "digests", "pending_articles", "outbox",
                    "delivery_channels")
_BASELINE_INDEXES = {"items": {"ix_items_story_key": "story_key",
                               "ix_items_duplicate_of": "duplicate_of"},
                     "alerts": {"ix_alerts_rule": "rule, item_id"}}


def migrate(engine: Engine) -> None:
    """Bring the database to head (see the module's docstring), then make sure
    the search index covers every item."""
    if current_revision(engine) != head_revision():
        with _locked(engine) as conn:
            _upgrade(conn)
            try:
                with conn.begin_nested():
                    ensure_search_tables(conn)
            except OperationalError as exc:   # no FTS5: ensure_search_index says so
                log.debug("storage: search tables not made here: %s", exc)
    ensure_search_index(engine)


def upgrade_database(engine: Engine) -> tuple[str | None, str]:
    """``newswatch migrate``: the revision before and after."""
    before = current_revision(engine)
    migrate(engine)
    return before, current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    return HEAD


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What Alembic compares: the models' tables, not the search index's."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not str(table).startswith(_SEARCH_TABLES)


def _upgrade(conn: Connection) -> None:
    """Under the lock: look again (another process may have just done it)."""
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
        if inspect(conn).has_table("alembic_version") else None
    if found == HEAD:
        return        # another process did it while this one waited: nothing to write
    from alembic import command

    config = _config(conn)
    if found is None and not inspect(conn).has_table("items"):
        SQLModel.metadata.create_all(conn)          # a new database: straight to head
        command.stamp(config, "head")
        log.info("storage: new database created at schema %s", HEAD)
        return
    if found is None:                                 # wave 1: before Alembic
        _complete_baseline(conn)
        command.stamp(config, BASELINE)
    elif found not in {r.revision for r in _scripts().walk_revisions()}:
        raise StorageError(f"the database's schema is at revision {found}, which this "
                           f"Newswatch does not know (it knows up to {head_revision()}): "
                           "it was written by a newer version; upgrade Newswatch")
    command.upgrade(config, "head")
    log.info("storage: schema upgraded from %s to %s", found or "wave 1 (before revisions)",
             HEAD)


def _complete_baseline(conn: Connection) -> None:
    """An unversioned database older than wave 1: the tables and indexes that
    wave 1 would have added when it opened it."""
    tables = set(inspect(conn).get_table_names())
    missing = [SQLModel.metadata.tables[t] for t in _BASELINE_TABLES if t not in tables]
    if missing:
        SQLModel.metadata.create_all(conn, tables=missing)
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    for table, wanted in _BASELINE_INDEXES.items():
        have = {ix["name"] for ix in inspector.get_indexes(table)} if table in tables else None
        for name, columns in wanted.items():
            if have is not None and name not in have:
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"))


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the migration lock; committed when done."""
    path = _sqlite_path(engine)
    with contextlib.ExitStack() as stack:
        if path is not None:
            fh = stack.enter_context(open(f"{path}.migrate.lock", "a+"))
            fcntl.flock(fh, fcntl.LOCK_EX)           # released by the kernel if we die
            stack.callback(fcntl.flock, fh, fcntl.LOCK_UN)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
            yield conn


def _sqlite_path(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    db = engine.url.database
    return Path(db) if db and db != ":memory:" else None


def _config(conn: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    return config


@functools.lru_cache(maxsize=1)
def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(SCRIPTS))


if __name__ == "__main__":
    print(head_revision())

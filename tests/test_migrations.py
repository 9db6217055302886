"""Schema migrations (storage/migrate.py, storage/alembic/): a database written by
wave 1 (the committed fixture ``fixtures/db/wave1.sqlite``) upgrades in place
with nothing lost; the migrated schema is exactly the models' on SQLite and on
PostgreSQL; two processes opening one new database migrate it once; a database
from a newer version is refused; ``newswatch migrate`` as a user runs it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import storage
from pgcluster import cluster
from pipeline.errors import StorageError
from storage import migrate
from test_search import titles

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "db"
WAVE1 = FIXTURES / "wave1.sqlite"


@pytest.fixture(scope="module")
def pg_server():
    with cluster(port=54333) as url:
        yield url


@pytest.fixture
def pg_url(pg_server, request):
    """A new, empty database on the module's cluster for each test."""
    name = "m_" + "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return pg_server.replace("/postgres?", f"/{name}?")


def schema_diff(store: storage.Store) -> list:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": migrate.include_object, "compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in json.loads((FIXTURES / "wave1.counts.json").read_text())}


def test_head_is_alembics_head():
    assert migrate.HEAD == ScriptDirectory(str(migrate.SCRIPTS)).get_current_head()


def test_a_wave1_database_upgrades_in_place_with_nothing_lost(tmp_path):
    path = tmp_path / "wave1.sqlite"
    shutil.copy(WAVE1, path)
    before = {"items": storage_rows(path, "SELECT url, title, status, text FROM items"),
              "alerts": storage_rows(path, "SELECT item_id, rule FROM alerts")}
    store = storage.open_store(f"sqlite:///{path}")
    try:
        assert migrate.current_revision(store.engine) == migrate.HEAD
        assert counts(path) == json.loads((FIXTURES / "wave1.counts.json").read_text())
        assert storage_rows(path, "SELECT url, title, status, text FROM items") == before["items"]
        assert storage_rows(path, "SELECT item_id, rule FROM alerts") == before["alerts"]
        # read through today's code: the new columns have their defaults
        states = storage.feed_states(store)
        assert states and all(s.not_found_count == 0 and s.moved_to is None
                              for s in states.values())
        assert len(list(storage.all_items(store))) == before["items"].__len__()
        # the search index made by wave 1 still answers
        assert "Prison guards charged in connection with Jeffrey Epstein's death" in \
            titles(store, "Epstein")
        assert schema_diff(store) == []
        assert storage.digest_written(store, storage_day(path))
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def storage_rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute(sql).fetchall())


def storage_day(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT day FROM digests").fetchone()[0]


def test_a_database_older_than_wave1_gains_the_baseline(tmp_path):
    """Indexes and tables that wave 1 added when it opened an older database."""
    path = tmp_path / "older.sqlite"
    shutil.copy(WAVE1, path)
    with sqlite3.connect(path) as db:
        db.executescript("DROP INDEX ix_items_story_key; DROP INDEX ix_alerts_rule; "
                         "DROP TABLE pending_articles;")
    store = storage.open_store(f"sqlite:///{path}")
    try:
        assert schema_diff(store) == [] and storage.count_pending_articles(store) == 0
    finally:
        store.close()


def test_a_new_database_is_created_at_head(tmp_path):
    store = storage.open_store(f"sqlite:///{tmp_path}/new.db")
    try:
        assert migrate.current_revision(store.engine) == migrate.HEAD
        assert schema_diff(store) == []
    finally:
        store.close()


def test_postgres_new_database_and_upgrade_from_the_baseline(pg_url):
    """On PostgreSQL: created at head equals the models; taken back to wave 1
    (0002's downgrade) with a row in it, then opened: upgraded, the row kept."""
    store = storage.open_store(pg_url)
    try:
        assert migrate.current_revision(store.engine) == migrate.HEAD
        assert schema_diff(store) == []
        with store.engine.begin() as conn:
            command.downgrade(migrate._config(conn), migrate.BASELINE)
            conn.execute(text("INSERT INTO feeds (url, name, consecutive_failures) "
                              "VALUES ('https://feeds.example/a', 'A', 2)"))
        assert migrate.current_revision(store.engine) == migrate.BASELINE
        assert schema_diff(store) != []
    finally:
        store.close()
    store = storage.open_store(pg_url)
    try:
        assert migrate.current_revision(store.engine) == migrate.HEAD
        assert schema_diff(store) == []
        state = storage.feed_states(store)["https://feeds.example/a"]
        assert state.consecutive_failures == 2 and state.not_found_count == 0
    finally:
        store.close()


def test_sqlite_downgrade_and_upgrade_again(tmp_path):
    path = tmp_path / "wave1.sqlite"
    shutil.copy(WAVE1, path)
    store = storage.open_store(f"sqlite:///{path}")
    with store.engine.begin() as conn:
        command.downgrade(migrate._config(conn), migrate.BASELINE)
    store.close()
    assert counts(path) == json.loads((FIXTURES / "wave1.counts.json").read_text())
    store = storage.open_store(f"sqlite:///{path}")
    try:
        assert schema_diff(store) == []
    finally:
        store.close()


def test_a_newer_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/newer.db"
    storage.open_store(url).close()
    with sqlite3.connect(tmp_path / "newer.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match="revision 9999.*newer version"):
        storage.open_store(url)
    done = newswatch("migrate", url=url, cwd=tmp_path)
    assert done.returncode == 1 and "9999" in done.stderr, done.stderr


OPEN_WHEN_TOLD = """
import sys, time
from pathlib import Path
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
import logging, storage
logging.basicConfig(level=logging.INFO, format="%(message)s")
storage.open_store(sys.argv[1]).close()
"""


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_two_processes_opening_a_new_database_migrate_it_once(dialect, tmp_path, request):
    url = f"sqlite:///{tmp_path}/race.db" if dialect == "sqlite" \
        else request.getfixturevalue("pg_url")
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_WHEN_TOLD, url, str(go)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    go.touch()              # all three were importing; now they open at once
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _o, err in outs]
    created = sum("new database created" in err for _o, err in outs)
    assert created == 1, [err for _o, err in outs]
    store = storage.open_store(url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert schema_diff(store) == []
    finally:
        store.close()


def newswatch(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess:
    config = cwd / "watch.yaml"
    if not config.exists():
        shutil.copy(ROOT / "config" / "watch.yaml", config)
    return subprocess.run([sys.executable, "-m", "pipeline", *args, "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin",
                               "NEWSWATCH_OUTPUT_DIR": str(cwd / "out")})


def test_newswatch_migrate(tmp_path):
    path = tmp_path / "wave1.sqlite"
    shutil.copy(WAVE1, path)
    first = newswatch("migrate", url=f"sqlite:///{path}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "upgraded from none" in first.stdout and f"to {migrate.HEAD}" in first.stdout
    again = newswatch("migrate", url=f"sqlite:///{path}", cwd=tmp_path)
    assert again.returncode == 0 and f"schema {migrate.HEAD}" in again.stdout
    assert "upgraded" not in again.stdout

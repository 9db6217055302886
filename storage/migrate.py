"""What an existing database needs beyond ``create_all``, applied when it is
opened (never by hand): indexes added to existing tables, and the search
index filled for the items stored before it existed. Each step reads first
and writes only when something is missing, because every command opens the
database, and a write would queue behind a running cycle."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from storage.search import ensure_search_index

# a story's page looks items up by story_key, an item's page its copies by
# duplicate_of, the search's alert filter the items of one rule
_INDEXES = {"items": {"ix_items_story_key": "story_key",
                      "ix_items_duplicate_of": "duplicate_of"},
            "alerts": {"ix_alerts_rule": "rule, item_id"}}


# columns added to existing tables since wave 1: (table, column, SQL type and default)
_COLUMNS: list[tuple[str, str, str]] = [
    ("feeds", "moved_to", "TEXT"),
    ("feeds", "gone_at", "TIMESTAMP WITH TIME ZONE"),
    ("feeds", "not_found_count", "INTEGER NOT NULL DEFAULT 0"),
    ("feeds", "dead_since", "TIMESTAMP WITH TIME ZONE"),
    ("feeds", "poll_every", "FLOAT"),
    ("feeds", "newest_entry_at", "TIMESTAMP WITH TIME ZONE"),
    ("items", "first_seen_at", "TIMESTAMP WITH TIME ZONE"),   # rematch (storage/history.py)
]


def migrate(engine: Engine) -> None:
    _add_columns(engine)
    _add_indexes(engine)
    ensure_search_index(engine)


def _add_indexes(engine: Engine) -> None:
    inspector = inspect(engine)
    missing = [(table, name, columns) for table, wanted in _INDEXES.items()
               for name, columns in wanted.items()
               if name not in {ix["name"] for ix in inspector.get_indexes(table)}]
    if missing:
        with engine.begin() as conn:
            for table, name, columns in missing:
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"))


def _add_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    missing = [(table, column, ddl) for table, column, ddl in _COLUMNS
               if table in tables
               and column not in {c["name"] for c in inspector.get_columns(table)}]
    if missing:
        with engine.begin() as conn:
            for table, column, ddl in missing:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))

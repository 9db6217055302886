"""What an existing database needs beyond ``create_all``, applied when it is
opened (never by hand): indexes added to existing tables, and the search
index filled for the items stored before it existed. Each step reads first
and writes only when something is missing, because every command opens the
database, and a write would queue behind a running cycle."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from storage.search import ensure_search_index

# a story's page looks items up by story_key, an item's page its copies by duplicate_of
_ITEM_INDEXES = {"ix_items_story_key": "story_key", "ix_items_duplicate_of": "duplicate_of"}


def migrate(engine: Engine) -> None:
    _add_item_indexes(engine)
    ensure_search_index(engine)


def _add_item_indexes(engine: Engine) -> None:
    have = {ix["name"] for ix in inspect(engine).get_indexes("items")}
    missing = {name: col for name, col in _ITEM_INDEXES.items() if name not in have}
    if missing:
        with engine.begin() as conn:
            for name, column in missing.items():
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON items ({column})"))

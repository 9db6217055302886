"""Full-text search over the kept items, one interface on SQLite and PostgreSQL.

What is indexed is the rule language's normalised text (``pipeline.textnorm``):
the title, and the summary with the article text, as their normalised words.
So an accent, a hamza, tashkeel or a fullwidth letter never decides whether a
report is found: أحمد finds احمد. A query word matches the forms the rule
language lets it match: an Arabic word also behind an attached prefix (صيدنايا
finds بصيدنايا); a phrase's words adjacent, in order, in one field. How each
engine spells that is in ``storage/fulltext.py``.

SQLite: an FTS5 table without content (the index alone; rowid = items.id)
beside ``search_docs`` (id, source, at): which items are indexed, and the
columns a search filters on, so a search never reads the long item rows.
PostgreSQL: ``search_docs`` also holds the tsvector, with a GIN index.

Only kept items (status "new") are indexed. ``index_saved`` indexes the rows
``save_feed_batch`` inserts, in its transaction; an existing database is
indexed when it is opened (``ensure_search_index``): the items above the
"checked through" mark that are not indexed yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from pipeline.textnorm import normalise, word_list
from storage import fulltext

log = logging.getLogger("newswatch.storage")

MAX_BODY_WORDS = 30_000      # no article is this long; PostgreSQL caps a tsvector at 1 MB
_BATCH = 500
_MARK = "checked_through"


@dataclass(frozen=True)
class SearchTerm:
    """One term of a query: its normalised words (word, is a prefix), as the
    rule language holds a term (``rules.Term.words``); several words are a phrase."""

    words: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class SearchQuery:
    """All of ``groups`` (each: any one of its terms), none of ``exclude``, and the filters."""

    groups: tuple[tuple[SearchTerm, ...], ...] = ()
    exclude: tuple[SearchTerm, ...] = ()
    source: str | None = None
    rule: str | None = None           # alert rule name (people are alert rules too)
    since: datetime | None = None     # [since, until) on the publication (or discovery) time
    until: datetime | None = None

    @property
    def has_filters(self) -> bool:
        return any(v is not None for v in (self.source, self.rule, self.since, self.until))


@dataclass(frozen=True)
class SearchPage:
    total: int              # every match, not only this page
    ids: list[int]          # this page's item ids, best first


# --- the index ---------------------------------------------------------------

def index_words(*parts: str | None) -> list[str]:
    """The normalised words of ``parts``, in order (what the index holds)."""
    return [w for part in parts if part for w in word_list(normalise(part))]


def ensure_search_index(engine: Engine) -> None:
    """Create the search tables if missing, then index the items that lack it
    (a database made before search existed, or written by an older version).
    Reads only, when there is nothing to do: every command opens the store."""
    dialect = engine.dialect.name
    if not _has_search_tables(engine):
        try:
            with engine.begin() as conn:
                ensure_search_tables(conn)
        except OperationalError as exc:
            if "fts5" not in str(exc).lower():
                raise
            log.warning("storage: this SQLite has no FTS5; search is unavailable (%s)", exc)
            return
    with engine.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM items")).scalar() or 0
        mark = _mark(conn)
    if top > mark:
        with engine.begin() as conn:
            _index_missing(conn, dialect, mark, top)


def _has_search_tables(bind) -> bool:
    wanted = {"search_docs", "search_meta"} | \
        ({"item_search"} if bind.dialect.name == "sqlite" else set())
    return wanted <= set(inspect(bind).get_table_names())


def ensure_search_tables(conn) -> None:
    """The search tables, made in ``conn``'s transaction (storage.migrate calls
    it under its lock: concurrent CREATE TABLE IF NOT EXISTS collide on PostgreSQL)."""
    if not _has_search_tables(conn):
        for statement in _schema(conn.dialect.name):
            conn.execute(text(statement))


def _schema(dialect: str) -> list[str]:
    meta = ["CREATE TABLE IF NOT EXISTS search_meta (name VARCHAR(40) PRIMARY KEY, value BIGINT)",
            f"INSERT INTO search_meta (name, value) VALUES ('{_MARK}', 0) "
            + ("ON CONFLICT (name) DO NOTHING" if dialect == "postgresql" else
               "ON CONFLICT DO NOTHING")]
    if dialect == "postgresql":
        return [*meta,
                "CREATE TABLE IF NOT EXISTS search_docs (id INTEGER PRIMARY KEY REFERENCES "
                "items(id), source TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, "
                "document TSVECTOR NOT NULL)",
                "CREATE INDEX IF NOT EXISTS ix_search_docs_document ON search_docs "
                "USING GIN (document)",
                "CREATE INDEX IF NOT EXISTS ix_search_docs_at ON search_docs (at)",
                "CREATE INDEX IF NOT EXISTS ix_search_docs_source ON search_docs (source, at)"]
    return [*meta,
            "CREATE TABLE IF NOT EXISTS search_docs (id INTEGER PRIMARY KEY, "
            "source TEXT NOT NULL, at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS ix_search_docs_at ON search_docs (at)",
            "CREATE INDEX IF NOT EXISTS ix_search_docs_source ON search_docs (source, at)",
            # contentless: the words are in items already. textnorm has decided
            # what a letter is (no diacritics left) and what a word is (\w+, so
            # "_" joins, as in the rules and the PostgreSQL tsvector)
            "CREATE VIRTUAL TABLE IF NOT EXISTS item_search USING fts5(title, body, "
            "content='', tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\")"]


def _mark(conn: Connection) -> int:
    value = conn.execute(text("SELECT value FROM search_meta WHERE name = :n"),
                         {"n": _MARK}).scalar()
    return int(value or 0)


def _index_missing(conn: Connection, dialect: str, mark: int, top: int) -> None:
    """Index the kept items in (mark, top] that are not indexed, then move the mark."""
    # the UPDATE first: on SQLite it takes the write lock before the rows are read
    conn.execute(text("UPDATE search_meta SET value = :top WHERE name = :n AND value < :top"),
                 {"top": top, "n": _MARK})
    last, done = mark, 0
    while True:
        rows = conn.execute(text(
            "SELECT i.id, i.title, i.summary, i.text, i.source, i.published, i.fetched_at, "
            "i.status FROM items i LEFT JOIN search_docs d ON d.id = i.id "
            "WHERE i.id > :last AND i.id <= :top AND d.id IS NULL AND i.status = 'new' "
            "ORDER BY i.id LIMIT :n"), {"last": last, "top": top, "n": _BATCH}).all()
        if not rows:
            break
        _insert(conn, dialect, [dict(r._mapping) for r in rows])
        last, done = rows[-1].id, done + len(rows)
    if done:
        log.info("storage: search index: %d stored items indexed", done)


def index_saved(conn: Connection, rows: Sequence[dict]) -> None:
    """Index rows just inserted by ``save_feed_batch`` (dicts with id, status,
    title, summary, text, source, published, fetched_at), in its transaction."""
    if not rows:
        return
    dialect = conn.dialect.name
    kept = [r for r in rows if r["status"] == "new"]
    if kept:
        _insert(conn, dialect, kept)
    low, high = min(r["id"] for r in rows), max(r["id"] for r in rows)
    # advance the mark only when nothing below this batch is unchecked (an
    # older version writing without indexing leaves a gap that open fills)
    conn.execute(text("UPDATE search_meta SET value = :high WHERE name = :n "
                      "AND value >= :low - 1 AND value < :high"),
                 {"high": high, "low": low, "n": _MARK})


def _insert(conn: Connection, dialect: str, rows: list[dict]) -> None:
    docs = {}
    for r in rows:       # one per id: an entry listed twice in a feed was inserted once
        docs.setdefault(r["id"], {
            "id": r["id"], "source": r["source"] or "",
            "at": _at(dialect, r["published"] or r["fetched_at"]),
            "title": index_words(r["title"]),
            "body": index_words(r["summary"], r["text"])[:MAX_BODY_WORDS]})
    if dialect == "postgresql":
        conn.execute(text(
            "INSERT INTO search_docs (id, source, at, document) "
            "VALUES (:id, :source, :at, CAST(:document AS tsvector)) ON CONFLICT (id) DO NOTHING"),
            [{"id": d["id"], "source": d["source"], "at": d["at"],
              "document": fulltext.pg_document([(d["title"], "A"), (d["body"], "")])}
             for d in docs.values()])
        return
    # the FTS table takes any rowid twice, so the primary key of search_docs
    # decides: only rows it accepted now are added to the index
    ids = list(docs)
    present = {i for part in _parts(ids) for (i,) in conn.execute(
        text(f"SELECT id FROM search_docs WHERE id IN ({_marks(part)})"), _binds(part))}
    fresh = [{**d, "title": " ".join(d["title"]), "body": " ".join(d["body"])}
             for i, d in docs.items() if i not in present]
    if fresh:
        conn.execute(text("INSERT INTO search_docs (id, source, at) VALUES (:id, :source, :at)"),
                     fresh)
        conn.execute(text("INSERT INTO item_search (rowid, title, body) "
                          "VALUES (:id, :title, :body)"), fresh)


def _at(dialect: str, when: datetime | str) -> datetime | str:
    """SQLite keeps times as text that sorts: UTC, ISO, seconds."""
    if dialect == "postgresql" or isinstance(when, str):
        return when
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _parts(values: list) -> Iterable[list]:
    for i in range(0, len(values), _BATCH):
        yield values[i:i + _BATCH]


def _marks(values: list) -> str:
    return ", ".join(f":v{i}" for i in range(len(values)))


def _binds(values: list) -> dict:
    return {f"v{i}": v for i, v in enumerate(values)}


# --- searching ---------------------------------------------------------------

def search(engine: Engine, query: SearchQuery, *, limit: int = 20, offset: int = 0
           ) -> SearchPage:
    """The matching item ids, best first (newest first when only filters are given)."""
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if pg:
            # the planner prices @@ on the small main row and never sees the TOASTed
            # tsvector it must unpack: it scans every row (2.4 s for "prison" on
            # 100,000 items) where the GIN index takes 10 ms. This transaction only.
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            match = fulltext.pg_query(query.groups, query.exclude)
            tables, test = "search_docs d", "d.document @@ CAST(:q AS tsquery)"
            score = "ts_rank_cd(d.document, CAST(:q AS tsquery)) DESC"
        else:
            match = fulltext.fts_query(query.groups, query.exclude, _probe(conn))
            # CROSS JOIN: the full-text match leads. Left to choose, SQLite may walk
            # a source's rows and run the whole MATCH for each (measured 760 ms
            # instead of 13 ms on 100,000 items); without filters no join at all
            tables = "item_search CROSS JOIN search_docs d ON d.id = item_search.rowid" \
                if query.has_filters else "item_search"
            test, score = "item_search MATCH :q", "bm25(item_search, 4.0, 1.0)"
        clauses, binds = _filters(conn, pg, query)
        if match:
            clauses.insert(0, test)
            binds["q"] = match
            order = f"{score}, d.at DESC" if pg or query.has_filters else f"{score}, rowid DESC"
        else:
            tables, order = "search_docs d", "d.at DESC, d.id DESC"
        where = " AND ".join(clauses) or "1 = 1"
        total = conn.execute(text(f"SELECT count(*) FROM {tables} WHERE {where}"), binds).scalar()
        key = "item_search.rowid" if tables == "item_search" else "d.id"
        ids = [i for (i,) in conn.execute(
            text(f"SELECT {key} FROM {tables} WHERE {where} ORDER BY {order} "
                 f"LIMIT :limit OFFSET :offset"), {**binds, "limit": limit, "offset": offset})]
    return SearchPage(total=int(total or 0), ids=ids)


def _probe(conn: Connection):
    """``indexed(word, prefix)``: does the index hold it? A query asks this for
    each Arabic prefix form of its words (~24 a word), so straight through the
    driver: SQLAlchemy's statement setup costs ten times the lookup."""
    cursor = conn.connection.cursor()

    def indexed(word: str, prefix: bool) -> bool:
        cursor.execute("SELECT 1 FROM item_search WHERE item_search MATCH ? LIMIT 1",
                       (fulltext.fts_probe(word, prefix),))
        return cursor.fetchone() is not None
    return indexed


def _filters(conn: Connection, pg: bool, q: SearchQuery) -> tuple[list[str], dict]:
    clauses, binds = [], {}
    if q.exclude and not q.groups:     # only exclusions: every item except those
        if pg:
            clauses.append("NOT (d.document @@ CAST(:neg AS tsquery))")
            binds["neg"] = fulltext.pg_terms(q.exclude)
        else:
            clauses.append("d.id NOT IN (SELECT rowid FROM item_search "
                           "WHERE item_search MATCH :neg)")
            binds["neg"] = fulltext.fts_terms(q.exclude, _probe(conn))
    if q.source is not None:
        clauses.append("d.source = :source")
        binds["source"] = q.source
    if q.rule is not None:
        clauses.append("d.id IN (SELECT item_id FROM alerts WHERE rule = :rule)")
        binds["rule"] = q.rule
    dialect = "postgresql" if pg else "sqlite"
    if q.since is not None:
        clauses.append("d.at >= :since")
        binds["since"] = _at(dialect, q.since)
    if q.until is not None:
        clauses.append("d.at < :until")
        binds["until"] = _at(dialect, q.until)
    return clauses, binds


__all__ = ["SearchTerm", "SearchQuery", "SearchPage", "ensure_search_index", "index_saved",
           "index_words", "search"]

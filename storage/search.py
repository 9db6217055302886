"""Full-text search over the kept items, one interface on SQLite and PostgreSQL.

What is indexed is the rule language's normalised text (``pipeline.textnorm``):
the title, and the summary with the article text, as their normalised words
joined by spaces. So an accent, a hamza, tashkeel or a fullwidth letter never
decides whether a report is found: أحمد finds احمد. A query word is expanded
here to the forms the rule language lets it match: for an Arabic word ``w``,
``w`` and every attached-prefix form (بw, وw, وبالw …), so صيدنايا finds
بصيدنايا; a phrase's words must be adjacent, in order, in one field.

SQLite: an FTS5 table without content (the index alone; rowid = items.id)
beside ``search_docs`` (id, source, at): which items are indexed, and the
columns a search filters on, so a search never reads the long item rows.
PostgreSQL: ``search_docs`` also holds ``to_tsvector('simple', …)`` of the
same normalised words, with a GIN index.

Only kept items (status "new") are indexed. ``index_saved`` indexes the rows
``save_feed_batch`` inserts, in its transaction; an existing database is
indexed when it is opened (``ensure_search_index``): the items above the
"checked through" mark that are not indexed yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import product
from typing import Iterable, Sequence

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from pipeline.textnorm import ARABIC_PREFIXES, normalise, words

log = logging.getLogger("newswatch.storage")

MAX_BODY_CHARS = 200_000     # PostgreSQL caps a tsvector at 1 MB; no article is this long
MAX_PHRASE_SPELLINGS = 256   # an Arabic phrase's prefix forms, multiplied out, beyond this
                             # are matched as "all these words" (see _fts_phrase)
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

def index_text(*parts: str | None) -> str:
    """The normalised words of ``parts``, joined by spaces (what the index reads)."""
    return " ".join(w for part in parts if part for w, _, _ in words(normalise(part)))


def ensure_search_index(engine: Engine) -> None:
    """Create the search tables if missing, then index the items that lack it
    (a database made before search existed, or written by an older version).
    Reads only, when there is nothing to do: every command opens the store."""
    dialect = engine.dialect.name
    wanted = {"search_docs", "search_meta"} | ({"item_search"} if dialect == "sqlite" else set())
    if not wanted <= set(inspect(engine).get_table_names()):
        try:
            with engine.begin() as conn:
                for statement in _schema(dialect):
                    conn.execute(text(statement))
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
            # contentless: the words are in items already; remove_diacritics 0
            # because textnorm has already decided what a letter is
            "CREATE VIRTUAL TABLE IF NOT EXISTS item_search USING fts5(title, body, "
            "content='', tokenize='unicode61 remove_diacritics 0')"]


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
    docs = [{"id": r["id"], "source": r["source"] or "",
             "at": _at(dialect, r["published"] or r["fetched_at"]),
             "title": index_text(r["title"]),
             "body": index_text(r["summary"], r["text"])[:MAX_BODY_CHARS]} for r in rows]
    # one row per id: an entry listed twice in a feed was inserted once (the first)
    docs = list({d["id"]: d for d in reversed(docs)}.values())
    if dialect == "postgresql":
        conn.execute(text(
            "INSERT INTO search_docs (id, source, at, document) VALUES (:id, :source, :at, "
            "setweight(to_tsvector('simple', :title), 'A') || to_tsvector('simple', :body)) "
            "ON CONFLICT (id) DO NOTHING"), docs)
        return
    # the FTS table takes any rowid twice, so the primary key of search_docs
    # decides: only rows it accepted now are added to the index
    ids = [d["id"] for d in docs]
    present = {i for part in _parts(ids) for (i,) in conn.execute(
        text(f"SELECT id FROM search_docs WHERE id IN ({_marks(part)})"), _binds(part))}
    docs = [d for d in docs if d["id"] not in present]
    if docs:
        conn.execute(text("INSERT INTO search_docs (id, source, at) VALUES (:id, :source, :at)"),
                     docs)
        conn.execute(text("INSERT INTO item_search (rowid, title, body) "
                          "VALUES (:id, :title, :body)"), docs)


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
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            match, binds = _pg_match(query)
            score = "ts_rank_cd(d.document, to_tsquery('simple', :q))" if match else None
        else:
            match, binds = _sqlite_match(conn, query)
            score = "bm25(item_search, 4.0, 1.0)" if match else None
        where, filters = _filters(engine.dialect.name, query, match)
        binds.update(filters)
        tables = "search_docs d" if not match or engine.dialect.name == "postgresql" else \
            "item_search JOIN search_docs d ON d.id = item_search.rowid"
        total = conn.execute(text(f"SELECT count(*) FROM {tables} WHERE {where}"), binds).scalar()
        order = (f"{score} {'DESC' if engine.dialect.name == 'postgresql' else ''}, d.at DESC"
                 if score else "d.at DESC, d.id DESC")
        ids = [i for (i,) in conn.execute(
            text(f"SELECT d.id FROM {tables} WHERE {where} ORDER BY {order} "
                 f"LIMIT :limit OFFSET :offset"), {**binds, "limit": limit, "offset": offset})]
    return SearchPage(total=int(total or 0), ids=ids)


def _filters(dialect: str, q: SearchQuery, match: str | None) -> tuple[str, dict]:
    clauses, binds = [], {}
    if match and dialect == "postgresql":
        clauses.append("d.document @@ to_tsquery('simple', :q)")
    elif match:
        clauses.append("item_search MATCH :q")
    if q.exclude and not match:     # only exclusions: every item except those
        neg = _pg_terms(q.exclude) if dialect == "postgresql" else \
            " OR ".join(_fts_term(None, t) for t in q.exclude)
        clauses.append("NOT (d.document @@ to_tsquery('simple', :neg))" if dialect ==
                       "postgresql" else
                       "d.id NOT IN (SELECT rowid FROM item_search WHERE item_search MATCH :neg)")
        binds["neg"] = neg
    if q.source is not None:
        clauses.append("d.source = :source")
        binds["source"] = q.source
    if q.rule is not None:
        clauses.append("d.id IN (SELECT item_id FROM alerts WHERE rule = :rule)")
        binds["rule"] = q.rule
    if q.since is not None:
        clauses.append("d.at >= :since")
        binds["since"] = _at(dialect, q.since)
    if q.until is not None:
        clauses.append("d.at < :until")
        binds["until"] = _at(dialect, q.until)
    return " AND ".join(clauses) or "1 = 1", binds


def forms(word: str) -> list[str]:
    """The index words that hold ``word`` in the rule language: itself and, for an
    Arabic word, itself behind each attached prefix (textnorm.word_forms, reversed)."""
    if len(word) < 2 or not any("\u0600" <= ch <= "\u06ff" for ch in word):
        return [word]
    return [word] + [p + word for p in ARABIC_PREFIXES]


# SQLite FTS5 ------------------------------------------------------------------

def _sqlite_match(conn: Connection, q: SearchQuery) -> tuple[str | None, dict]:
    if not q.groups:
        return None, {}
    groups = ["(" + " OR ".join(_fts_term(conn, t) for t in g) + ")" for g in q.groups]
    expr = " AND ".join(groups)
    if q.exclude:
        expr = f"({expr}) NOT (" + " OR ".join(_fts_term(conn, t) for t in q.exclude) + ")"
    return expr, {"q": expr}


def _fts_word(word: str, prefix: bool) -> str:
    return '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")


def _fts_term(conn: Connection | None, term: SearchTerm) -> str:
    if len(term.words) == 1:
        word, prefix = term.words[0]
        return "(" + " OR ".join(_fts_word(f, prefix) for f in forms(word)) + ")"
    return _fts_phrase(conn, term)


def _fts_phrase(conn: Connection | None, term: SearchTerm) -> str:
    """Adjacent words: every combination of their forms that the index holds,
    as FTS5 phrases (``"a" + "b"*``). Forms the index lacks are dropped first,
    so an Arabic phrase costs a few phrases, not 24 to the power of its length."""
    choices = []
    for word, prefix in term.words:
        found = forms(word)
        if len(found) > 1 and conn is not None:
            found = [f for f in found if _indexed(conn, f, prefix)] or [word]
        choices.append([(f, prefix) for f in found])
    total = 1
    for c in choices:
        total *= len(c)
    if total > MAX_PHRASE_SPELLINGS:
        # too many spellings: all the words, anywhere in the item
        return "(" + " AND ".join("(" + " OR ".join(_fts_word(f, p) for f, p in c) + ")"
                                  for c in choices) + ")"
    return "(" + " OR ".join(" + ".join(_fts_word(f, p) for f, p in combo)
                             for combo in product(*choices)) + ")"


def _indexed(conn: Connection, word: str, prefix: bool) -> bool:
    return conn.execute(text("SELECT 1 FROM item_search WHERE item_search MATCH :w LIMIT 1"),
                        {"w": _fts_word(word, prefix)}).first() is not None


# PostgreSQL tsquery -------------------------------------------------------------

def _pg_match(q: SearchQuery) -> tuple[str | None, dict]:
    if not q.groups:
        return None, {}
    expr = " & ".join("(" + _pg_terms(g) + ")" for g in q.groups)
    if q.exclude:
        expr = f"({expr}) & !({_pg_terms(q.exclude)})"
    return expr, {"q": expr}


def _pg_terms(terms: Iterable[SearchTerm]) -> str:
    return " | ".join(_pg_term(t) for t in terms)


def _pg_term(term: SearchTerm) -> str:
    # tsquery takes alternatives inside a phrase: (a | ba) <-> c
    return "(" + " <-> ".join(
        "(" + " | ".join(f"'{f}'" + (":*" if prefix else "") for f in forms(word)) + ")"
        for word, prefix in term.words) + ")"


__all__ = ["SearchTerm", "SearchQuery", "SearchPage", "ensure_search_index", "index_saved",
           "index_text", "search", "forms"]

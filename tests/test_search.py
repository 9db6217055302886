"""Search over the kept items, on SQLite (FTS5) and on PostgreSQL (tsvector), through
the one interface: the search box's language (pipeline/web/query.py) read into a
storage query, run by storage.search_items. The same cases run on both engines;
the PostgreSQL ones on the throw-away cluster of tests/test_postgres.py (required
in CI). Plus the index's upkeep: filled at open for a database made before search
existed, kept up to date by save_feed_batch, never twice."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pgcluster import postgres_url  # noqa: F401  (the throw-away cluster)

import storage
from pipeline.records import Article, FeedEntry, FeedState, ItemOutcome, RuleMatch, TermHit
from pipeline.web.query import parse_query

NOW = datetime(2024, 12, 9, 8, 0, tzinfo=timezone.utc)
VARIANTS = {"Sednaya": ("Sednaya", "Saydnaya", "Saidnaya", "صيدنايا", "صدنايا"),
            "Detention": ("prison*", "detain*", "missing")}
REPORTS = [
    # (title, text, source, days before NOW, alert rule or None)
    ("Families gather at Sednaya prison", "Thousands waited outside the prison gates as "
     "detainees were freed.", "BBC", 0, "Sednaya prison"),
    ("Inside Saydnaya", "Rescuers searched the underground cells of the prison for survivors.",
     "Sky", 1, "Sednaya prison"),
    ("الإفراج عن مئات المعتقلين بصيدنايا", "أفرجت فصائل المعارضة عن آلاف المعتقلين من سجن "
     "صيدنايا قرب دمشق.", "عنب بلدي", 2, None),
    ("عائلة أحمد تبحث عنه", "قالت عائلة المعتقل احمد إنها لم تجد اسمه في القوائم.",
     "عنب بلدي", 3, "Ahmad"),
    ("A mass grave near Damascus", "Investigators found a mass grave outside the capital.",
     "BBC", 4, None),
    ("Grave concerns over mass arrests", "Observers said the mass of arrests was a grave "
     "matter for the football league.", "Sky", 5, None),
    ("Tadamon massacre remembered", "Residents of Tadamon recalled the 2013 killings.",
     "BBC", 6, None),
    ("Tadamun residents return", "People returned to Tadamun district.", "Sky", 7, None),
    ("Detainees' families wait", "The detained were moved, officials said.", "BBC", 8, None),
]


def _outcome(n: int, title: str, text: str, source: str, days: int, rule: str | None,
             status: str = "new") -> ItemOutcome:
    when = NOW - timedelta(days=days)
    entry = FeedEntry(feed_name=source, feed_url=f"http://{source}/rss",
                      link=f"https://news.example/{n}", title=title, summary="", published=when)
    alerts = [RuleMatch(rule, (TermHit(title.split()[0], "title", 0, 3, title[:3]),))] \
        if rule else []
    return ItemOutcome(entry=entry, canonical_url=entry.link, status=status, fetched_at=when,
                       title=title, article=Article(url=entry.link, title=title, text=text),
                       alerts=alerts)


def fill(store, reports=REPORTS, start: int = 0) -> None:
    storage.save_feed_batch(store, FeedState(url="http://x/rss"),
                            [_outcome(start + i, *r) for i, r in enumerate(reports)])


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, env):
    if request.param == "sqlite":
        s = storage.open_store(env["DATABASE_URL"])
        yield s
        s.close()
        return
    base = request.getfixturevalue("postgres_url")
    import psycopg

    name = "search_" + uuid.uuid4().hex[:10]
    dsn = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    s = storage.open_store(base.replace("/postgres?", f"/{name}?"))
    assert s.engine.dialect.name == "postgresql"
    yield s
    s.close()


def titles(store, text: str, **filters) -> list[str]:
    parsed = parse_query(text, VARIANTS)
    assert parsed.error is None, parsed.error
    _, items = storage.search_items(store, parsed.storage_query(**filters), limit=50)
    return [i.title for i in items]


def test_a_spelling_of_a_name_finds_the_others(store):
    fill(store)
    found = titles(store, "Saydnaya")
    assert set(found) == {"Families gather at Sednaya prison", "Inside Saydnaya",
                          "الإفراج عن مئات المعتقلين بصيدنايا"}
    # a set of ideas is expanded only when asked for: "missing" is just the word
    assert titles(store, "missing") == []


def test_arabic_prefixes_and_hamza_do_not_matter(store):
    fill(store)
    assert "الإفراج عن مئات المعتقلين بصيدنايا" in titles(store, "صيدنايا")
    assert titles(store, "بصيدنايا") == ["الإفراج عن مئات المعتقلين بصيدنايا"]
    assert titles(store, "أحمد") == titles(store, "احمد") == ["عائلة أحمد تبحث عنه"]
    assert titles(store, "المعتقلين") == titles(store, "معتقلين") != []
    assert titles(store, '"سجن صيدنايا"') == ["الإفراج عن مئات المعتقلين بصيدنايا"]


def test_phrase_exclusion_or_and_prefix(store):
    fill(store)
    assert titles(store, '"mass grave"') == ["A mass grave near Damascus"]
    assert set(titles(store, "mass grave")) == {"A mass grave near Damascus",
                                                "Grave concerns over mass arrests"}
    assert titles(store, "mass grave -football") == ["A mass grave near Damascus"]
    assert set(titles(store, "Tadamon OR Tadamun")) == {"Tadamon massacre remembered",
                                                        "Tadamun residents return"}
    assert "Detainees' families wait" in titles(store, "detain*")
    assert titles(store, "detain") == []
    everything_but = titles(store, "-football")          # exclusions alone: all the others
    assert len(everything_but) == len(REPORTS) - 1
    assert "Grave concerns over mass arrests" not in everything_but


def test_filters_source_rule_and_dates(store):
    fill(store)
    assert titles(store, "prison", source="Sky") == ["Inside Saydnaya"]
    assert titles(store, "", rule="Ahmad") == ["عائلة أحمد تبحث عنه"]
    assert set(titles(store, "Saydnaya", rule="Sednaya prison")) == {
        "Families gather at Sednaya prison", "Inside Saydnaya"}
    window = titles(store, "", since=NOW - timedelta(days=4, hours=1),
                    until=NOW - timedelta(days=1, hours=1))
    assert window == ["الإفراج عن مئات المعتقلين بصيدنايا", "عائلة أحمد تبحث عنه",
                      "A mass grave near Damascus"]       # newest first without words


def test_title_matches_rank_first_and_pages_add_up(store):
    fill(store, [(f"Report {i} on the prison", "Text without it.", "BBC", 0, None)
                 for i in range(5)]
         + [(f"Other report {i}", "A long text that mentions the prison once among many "
             "other words about other things entirely.", "BBC", 0, None) for i in range(20)])
    query = parse_query("prison", VARIANTS).storage_query()
    total, first = storage.search_items(store, query, limit=20)
    _, second = storage.search_items(store, query, limit=20, offset=20)
    assert total == 25 and len(first) == 20 and len(second) == 5
    assert all(i.title.startswith("Report") for i in first[:5])
    assert not {i.id for i in first} & {i.id for i in second}


def test_only_kept_items_are_searchable(store):
    fill(store, [("Sednaya football", "Sednaya club won.", "Sky", 0, None, "off_topic"),
                 ("Sednaya copy", "Sednaya prison.", "Sky", 0, None, "duplicate")])
    assert titles(store, "Sednaya") == []


def test_saving_twice_indexes_once(store):
    fill(store)
    fill(store)                              # a replay: every URL is known, nothing added
    assert len(titles(store, "Saydnaya")) == 3
    total, _ = storage.search_items(store, parse_query("", VARIANTS).storage_query())
    assert total == len(REPORTS)


def test_an_old_database_is_indexed_when_opened(env):
    """A database written before search existed (no search tables), and items an
    older version added without indexing them: both are found after open."""
    store = storage.open_store(env["DATABASE_URL"])
    fill(store)
    store.close()
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        # (indexes missing from a database older than revisions: test_migrations.py)
        db.executescript("DROP TABLE item_search; DROP TABLE search_docs; "
                         "DROP TABLE search_meta;")
    store = storage.open_store(env["DATABASE_URL"])
    assert len(titles(store, "Saydnaya")) == 3
    # an older writer: a row inserted straight into items, no index, no mark moved
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO items (url, canonical_url, guid, title, summary, text, source, "
                   "feed_url, status, fetched_at, extraction) VALUES ('https://old/1', "
                   "'https://old/1', '', 'Sidnaya survivors speak', '', 'x', 'Old', 'o', "
                   "'new', '2024-12-01 00:00:00', 'page')")
    store.close()
    store = storage.open_store(env["DATABASE_URL"])
    assert "Sidnaya survivors speak" in titles(store, "Sidnaya")
    with sqlite3.connect(path) as db:
        indexed = db.execute("SELECT count(*) FROM search_docs").fetchone()[0]
        rows = db.execute("SELECT count(*) FROM item_search").fetchone()[0]
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master "
                                            "WHERE type = 'index'")}
    assert indexed == rows == len(REPORTS) + 1
    assert "ix_items_story_key" in indexes
    store.close()


def test_opening_an_indexed_database_writes_nothing(env):
    store = storage.open_store(env["DATABASE_URL"])
    fill(store)
    store.close()
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        before = db.execute("PRAGMA data_version").fetchone()[0]
        changes = db.total_changes
        storage.open_store(env["DATABASE_URL"]).close()
        # another connection's commit would change data_version
        assert db.execute("PRAGMA data_version").fetchone()[0] == before
        assert db.total_changes == changes


def test_query_language_errors_are_reported():
    assert parse_query("x " * 30, VARIANTS).error.startswith("at most")
    parsed = parse_query('{Sednaya} "human slaughterhouse" -football', VARIANTS)
    assert parsed.error is None and len(parsed.groups) == 2 and len(parsed.exclude) == 1
    assert parsed.expanded[0]["set"] == "Sednaya" and "صيدنايا" in parsed.expanded[0]["spellings"]


def test_a_word_is_what_the_rules_call_a_word_on_both_engines(store):
    """\\w+ as in textnorm: "_" joins (FTS5's tokenizer would split there unless told),
    a possessive 's is dropped, an accent or a hamza changes nothing."""
    fill(store, [("Files", "The file is named syria_prison_2013.", "BBC", 0, None),
                 ("Syria's jails", "Saïdnaya's survivors spoke; إدلب", "Sky", 0, None)])
    assert titles(store, "syria_prison_2013") == ["Files"]
    assert titles(store, "prison") == []
    assert titles(store, "syria") == ["Syria's jails"]
    assert titles(store, "Saidnaya") == ["Syria's jails"]
    assert titles(store, "ادلب") == ["Syria's jails"]

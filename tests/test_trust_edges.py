"""Unattended trust at the edge where text comes in (issue 13, classes 3, 4, 5, 6, 11).

Real feeds through ``parse_feed`` and whole cycles against the local news web:

* 3: control characters, terminal escapes (CSI, OSC-8 links, BEL) and NUL from a
  feed or page never reach the database or the digest; a page holding ``&#27;``
  still gives its text; soft hyphens and zero-width spaces inside a word neither
  break a match (the Sednaya alert) nor a fingerprint.
* 4: references to no character (``&#xD800;``, ``&#x110000;``) lose nothing of the feed.
* 5: dates in year 9999 or year 1 are unknown; the digest renders in any time
  zone and the story index keeps grouping.
* 6: a 4.8 MB title, a page of 400,000 characters and a term repeated thousands
  of times are stored in bounded space.
* 11: one normaliser for rules, fingerprints and story titles; stored fingerprints
  of the older format (or garbage) are skipped with one log line, never a crash.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import struct
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import storage
from conftest import TEST_ALERTS, TEST_TOPIC, write_config
from cycle_support import run_once
from newsweb import page_around, rss
from pipeline import digest
from pipeline.config import DedupeConfig, load_settings
from pipeline.dedupe import Fingerprint, StoryIndex, fingerprint
from pipeline.dedupe.stories import title_words
from pipeline.feeds import parse_feed
from pipeline.match import match_alerts, parse_rule_set
from pipeline.records import FeedEntry, FeedState, ItemOutcome
from pipeline.textnorm import normalise

CFG = DedupeConfig()
_, ALERTS = parse_rule_set(TEST_TOPIC, TEST_ALERTS, {})
# what must never be stored: C0/C1 controls but tab and newline, surrogates, non-characters
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
NOW = datetime(2024, 12, 10, 12, 0, tzinfo=timezone.utc)
PARAGRAPHS = [
    "Families of men held in Sednaya prison gathered outside the courthouse on Monday, "
    "demanding news of relatives who disappeared after their arrest more than ten years ago.",
    "The committee of families said it had documented thousands of cases and would keep "
    "publishing the names of the missing as records were found in the prison archives.",
    "Lawyers for the families said the records found so far named guards, interrogators and "
    "the dates on which prisoners were moved between branches of the security services.",
]


def _rows(env: dict, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))) as con:
        return con.execute(sql).fetchall()


def _stored_texts(env: dict) -> list[str]:
    rows = _rows(env, "SELECT url, guid, title, summary, text, author, site, error, "
                      "fallback_reason FROM items")
    rows += _rows(env, "SELECT hits FROM alerts")
    rows += _rows(env, "SELECT name, last_error FROM feeds")
    return [v for row in rows for v in row if isinstance(v, str)]


def _digest_now(settings, store) -> dict[str, str]:
    day = digest.digest_day_of(datetime.now(timezone.utc), settings.digest_time, settings.tz)
    return {p.suffix[1:]: p.read_text("utf-8") for p in digest.write_day(settings, store, day)}


def _alerts_by_title(env: dict) -> dict[str, set[str]]:
    rows = _rows(env, "SELECT items.title, alerts.rule FROM items "
                      "LEFT JOIN alerts ON alerts.item_id = items.id")
    out: dict[str, set[str]] = {}
    for title, rule in rows:
        out.setdefault(title, set()).update({rule} if rule else set())
    return out


# ------------------------------------------------------------------ 3: made safe at the edge

def test_controls_and_escapes_never_stored_and_invisible_joiners_never_break_a_match(
        web, env, tmp_path):
    a = web.base + "/a/"
    page = page_around("Sednaya families wait", PARAGRAPHS).replace(
        "gathered outside", "gathered &#27;[31moutside&#7;")       # trafilatura gave nothing
    web.add("/a/page", page)
    osc8 = "\x1b]8;;http://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
    web.add("/feeds/hostile.xml", rss("Desk\x1b]0;pwned\x07", [
        {"title": f"Syria: \x00detainees\x1b[2J\x1b[31m freed\x07 {osc8}", "link": a + "gone1",
         "description": "Prison \x1b]0;title\x07news\x00 from \x9b31mthe\x1b[0m north",
         "guid": "id\x00-1"},
        {"title": "Families gather outside Sed\u00adnaya", "link": a + "gone2"},
        {"title": "Sed\u200bnaya: a list of names", "link": a + "gone3"},
        {"title": "Lists of the missing", "link": a + "page"},
    ]), content_type="application/rss+xml")
    settings = load_settings(write_config(tmp_path, [
        {"name": "Hostile", "url": web.url("/feeds/hostile.xml")}]), env=env)
    summary, store = run_once(settings)

    assert summary.feeds_failed == 0 and summary.new == 4, summary.line()
    texts = _stored_texts(env)
    assert not [t for t in texts if UNSAFE.search(t)], [t for t in texts if UNSAFE.search(t)]
    alerts = _alerts_by_title(env)
    assert "Syria: detainees freed click here" in alerts
    assert "Sednaya" in alerts["Families gather outside Sed\u00adnaya"]
    assert "Sednaya" in alerts["Sed\u200bnaya: a list of names"]
    (extraction, text), = _rows(env, "SELECT extraction, text FROM items "
                                     "WHERE url LIKE '%/a/page'")
    assert extraction == "page" and "gathered [31moutside the courthouse" in text
    for kind, doc in _digest_now(settings, store).items():
        assert not UNSAFE.search(doc), (kind, UNSAFE.search(doc))
        assert "evil.example" not in doc

    # ... and the same words give the same fingerprint, joiners or not
    plain = " ".join(PARAGRAPHS)
    for joiner in ("\u00ad", "\u200b", "\u200d", "\u2060"):
        assert fingerprint(plain.replace("Sednaya", f"Sed{joiner}naya"), CFG) == \
            fingerprint(plain, CFG), repr(joiner)


@pytest.mark.parametrize("raw, clean", [
    ("a\x1b[31mred\x1b[0m b", "ared b"),                                     # CSI colours
    ("x\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ y", "xclick y"),    # OSC-8
    ("t\x1b]0;window title\x07z", "tz"), ("\x9b2Jq", "q"), ("\x1bPq\x1b\\k", "k"),  # C1, DCS
    ("open \x1b]8;;http://x rest", "open 8;;http://x rest"),  # unterminated: ESC goes
    ("one\r\ntwo\rthree\x0cfour\x85five", "one\ntwo\nthree\nfour\nfive"),
    ("nul\x00 bel\x07 del\x7f", "nul bel del"),
    ("\ud800x\ufdd0y\U0010ffffz\ufffe", "xyz"),                    # surrogate, non-characters
    ("kept: tab\tline\nSed\u00adnaya \u202eabc\u202c \u200d", None),  # the renderers' or matchers'
])
def test_clean_external_text(raw, clean):
    from pipeline.sanitize import clean_external_text

    assert clean_external_text(raw) == (raw if clean is None else clean)


# ------------------------------------------------------------------ 4: one bad entry

def test_references_to_no_character_lose_nothing_of_the_feed():
    body = rss("World", [
        {"title": "Detainees freed in Damascus", "link": "https://example.org/1"},
        {"title": "Bad &#xD800; title &#55296;", "link": "https://example.org/2",
         "description": "out of range &#x110000; and &#99999999999999999999999999; here"},
        {"title": "Families wait for news", "link": "https://example.org/3"},
    ]).encode().replace(b"&amp;#", b"&#")         # rss() escaped the references
    parsed = parse_feed(body, feed_name="W", feed_url="https://example.org/feed")
    assert [e.link for e in parsed.entries] == [f"https://example.org/{i}" for i in (1, 2, 3)]
    bad = parsed.entries[1]
    assert bad.title == "Bad \ufffd title \ufffd"
    assert bad.summary == "out of range \ufffd and \ufffd here"
    # the references feedparser can read are untouched
    good = rss("G", [{"title": "A", "link": "https://example.org/a"}]).encode().replace(
        b"<title>A</title>", b"<title>caf&#xE9; &#8217;&#128512;&#9;x</title>")
    (entry,) = parse_feed(good, feed_name="G", feed_url="https://example.org/g").entries
    assert entry.title == "café \u2019\U0001F600 x"


# ------------------------------------------------------------------ 5: dates clamped

def _dated_feed(dates: list[str]) -> bytes:
    return rss("Dated", [{"title": f"Prison report {i}", "link": f"https://example.org/{i}",
                          "pubDate": d} for i, d in enumerate(dates)]).encode()


def test_dates_outside_1990_to_tomorrow_are_unknown_and_crash_nothing(web, env, tmp_path):
    dates = ["Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
             "Sun, 31 Dec 1989 23:59:59 GMT", "Tue, 10 Dec 2024 11:00:00 GMT",
             "Wed, 11 Dec 2024 06:00:00 GMT", "Thu, 12 Dec 2024 13:00:00 GMT"]
    # a whole cycle and the digest, in the time zones furthest from UTC
    web.add("/feeds/dated.xml", _dated_feed(dates[:2]).replace(
        b"https://example.org/", web.url("/a/").encode()), content_type="application/rss+xml")
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        settings = load_settings(write_config(tmp_path, [
            {"name": "Dated", "url": web.url("/feeds/dated.xml")}], timezone=zone), env=env)
        summary, store = run_once(settings)
        assert _rows(env, "SELECT count(*) FROM items WHERE published IS NOT NULL") == [(0,)]
        assert "Prison report 0" in _digest_now(settings, store)["md"]

    # the story index: items dated year 1 and 9999 (stored before this fix) must
    # neither overflow its arithmetic nor move its clock and stop grouping
    stories = StoryIndex(CFG)
    stories.add("old-1", "Sednaya families gather", None, datetime(1, 1, 1, tzinfo=timezone.utc))
    stories.add("bad", "Damascus market reopens", None,
                datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc))
    stories.add("first", "Sednaya prison survivors testify in Koblenz court", None, None)
    assert stories.find_story("Koblenz court hears Sednaya prison survivors", None,
                              None) == "first"

    # the bounds, against the "now" the caller gives
    parsed = parse_feed(_dated_feed(dates), feed_name="D", feed_url="https://example.org/f",
                        now=NOW)
    published = [e.published and e.published.isoformat() for e in parsed.entries]
    assert published == [None, None, None, "2024-12-10T11:00:00+00:00",
                         "2024-12-11T06:00:00+00:00", None]


# ------------------------------------------------------------------ 6: sizes bounded

def test_a_huge_title_page_and_term_repetition_are_stored_bounded(web, env, tmp_path):
    huge_title = "Sednaya " * 600_000                       # 4.8 MB
    long_page = page_around("Sednaya, the long list", PARAGRAPHS * 800)   # ~420,000 chars
    web.add("/a/long", long_page)
    body = rss("Big", [{"title": huge_title, "link": web.url("/a/gone")},
                       {"title": "The long list", "link": web.url("/a/long")}])
    assert 4_800_000 < len(body) < 5_000_000                # under the fetch cap
    web.add("/feeds/big.xml", body, content_type="application/rss+xml")
    settings = load_settings(write_config(tmp_path, [
        {"name": "Big", "url": web.url("/feeds/big.xml")}]), env=env)
    summary, store = run_once(settings)

    assert summary.new == 2 and summary.feeds_failed == 0, summary.line()
    items = _rows(env, "SELECT length(title), length(summary), length(text) FROM items")
    hits = [json.loads(h) for (h,) in _rows(env, "SELECT hits FROM alerts")]
    assert all(t <= 1000 and s <= 20_000 and x <= 200_000 for t, s, x in items), items
    assert max(x for _, _, x in items) > 100_000           # capped, not dropped
    assert len(hits) == 2 and all(0 < len(h) <= 50 for h in hits)
    assert sum(len(json.dumps(h)) for h in hits) < 20_000
    assert Path(env["DATABASE_URL"].removeprefix("sqlite:///")).stat().st_size < 3_000_000

    # the match stage alone: a term 20,000 times keeps 50 hits, each quoting little
    (m,) = match_alerts([a for a in ALERTS if a.name == "Sednaya"], "", "",
                        "Sednaya " * 20_000)
    assert len(m.hits) == 50 and m.hits[0].start == 0


# ------------------------------------------------------------------ 11: one normaliser

def test_one_normaliser_for_rules_fingerprints_and_stories():
    text = " ".join(PARAGRAPHS)
    for a, b in [("Saïdnaya", "Saidnaya"), ("Sed\u00adnaya", "Sednaya"),
                 ("السجينة", "السجينه"), ("مسؤول", "مسوول"), ("رئيس", "رييس")]:
        assert fingerprint(text.replace("Sednaya", a), CFG) == \
            fingerprint(text.replace("Sednaya", b), CFG), (a, b)
        assert title_words(f"{a} prison survivors") == title_words(f"{b} prison survivors")
        assert normalise(a) == normalise(b)           # the rules' own normaliser
    (m,) = match_alerts(ALERTS[:1], "Survivors of Saïdnaya testify", "", "")
    assert m.hits[0].term == "Saidnaya" and m.hits[0].matched == "Saïdnaya"


def _old_format(fp: Fingerprint) -> bytes:
    """The same sketch as format version 1 wrote it (its own normaliser)."""
    return struct.pack("<BII", 1, fp.words, fp.shingles) + fp.sketch


def test_stored_fingerprints_of_an_older_format_or_garbage_never_break_a_cycle(
        web, env, tmp_path, caplog):
    fp = fingerprint(" ".join(PARAGRAPHS), CFG)
    blobs = {"old": _old_format(fp), "garbage": b"\x02" + bytes(range(240, 200, -1)),
             "short": b"\x02ab", "unsorted": fp.to_bytes()[:9] + fp.sketch[::-1]}
    web.add("/a/new", page_around("Sednaya families wait", PARAGRAPHS[::-1]))
    web.add("/feeds/f.xml", rss("F", [{"title": "Sednaya families wait",
                                        "link": web.url("/a/new")}]),
            content_type="application/rss+xml")
    settings = load_settings(write_config(tmp_path, [
        {"name": "F", "url": web.url("/feeds/f.xml")}]), env=env)
    store = storage.open_store(settings.database_url)
    stored = [ItemOutcome(entry=FeedEntry("Old", "https://old.example/feed",
                                          f"https://old.example/{name}", title=f"Old {name}"),
                          canonical_url=f"https://old.example/{name}", status="new",
                          fetched_at=NOW - timedelta(days=400), title=f"Old {name}",
                          fingerprint=blob) for name, blob in blobs.items()]
    storage.save_feed_batch(store, FeedState(url="https://old.example/feed"), stored)

    with caplog.at_level(logging.INFO, logger="newswatch"):
        summary, store = run_once(settings)
    assert summary.new == 1 and summary.failed == 0, summary.line()
    lines = [r.getMessage() for r in caplog.records if "older format" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("dedupe: 4 stored fingerprints"), lines
    assert Fingerprint.from_bytes(fp.to_bytes()) == fp
    assert all(Fingerprint.from_bytes(b) is None for b in blobs.values())


@pytest.mark.parametrize("variant", ["Sed\u00adnaya", "Sed\u200bnaya", "SEDNAYA", "Sednaya\u200d"])
def test_the_sednaya_alert_through_invisible_characters(variant):
    (m,) = match_alerts(ALERTS[:1], f"Families gather outside {variant} today", "", "")
    assert m.rule == "Sednaya" and m.hits[0].matched == variant

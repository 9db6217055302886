"""JSON Feed and lying charsets: parsed into the same entries as RSS, and through
whole cycles against the local news web (``newsweb``).

* JSON Feed 1.0 and 1.1 by media type or by shape; hostile JSON (not JSON, wrong
  types, deep nesting, huge numbers) is one clear FeedError naming the feed, and
  the cycle's other feeds lose nothing.
* Charsets: Windows-1256 Arabic under ``charset=utf-8``, the same without any
  declaration, UTF-8 under ``iso-8859-1``; a note says what was done, and the
  Arabic alert matches through a whole cycle.
"""

from __future__ import annotations

import codecs
import json
import logging
import sys
from pathlib import Path

import pytest

from conftest import write_config
from cycle_support import export_rows, run_in_process
from newsweb import rss
from pipeline.errors import FeedError
from pipeline.feeds import parse_feed
from pipeline.feeds.charsets import fit_charset

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "novelty"))
from arabic import A0  # noqa: E402  real Arabic sentences (the novelty set)

FEED = "https://news.example/feed.json"


def json_feed(items: list[dict], version: str = "https://jsonfeed.org/version/1.1") -> bytes:
    return json.dumps({"version": version, "title": "Desk <b>JSON</b>", "items": items},
                      ensure_ascii=False).encode("utf-8")


def parse(body: bytes, content_type: str = "application/feed+json", charset=None, url=FEED):
    return parse_feed(body, feed_name="Desk", feed_url=url, content_type=content_type,
                      charset=charset)


# ------------------------------------------------------------------ JSON Feed

def test_json_feed_items_become_the_same_entries_as_rss():
    body = json_feed([
        {"id": "a1", "url": "https://news.example/a1", "title": "Syria: <i>prison</i> opened",
         "content_html": "<p>Detainees freed</p><script>alert(1)</script>",
         "date_published": "2024-12-08T10:00:00+02:00"},
        {"id": "https://news.example/a2", "title": "by its id", "content_text": "Plain text"},
        {"id": "a3", "external_url": "https://other.example/a3", "summary": "Short",
         "content_html": "<p>Long</p>", "date_modified": "2024-12-09T00:00:00Z"},
        {"id": "a4", "content_text": "an item without any URL"},
    ], version="https://jsonfeed.org/version/1")
    parsed = parse(body)
    assert parsed.title == "Desk JSON"
    first, second, third = parsed.entries
    assert (first.link, first.title, first.summary, first.guid) == (
        "https://news.example/a1", "Syria: prison opened", "Detainees freed", "a1")
    assert first.published.isoformat() == "2024-12-08T08:00:00+00:00"
    assert second.link == "https://news.example/a2" and second.summary == "Plain text"
    assert third.link == "https://other.example/a3" and third.summary == "Short"
    assert third.published.isoformat() == "2024-12-09T00:00:00+00:00"
    assert parsed.skipped == ["entry 4: no link"]      # an id that is no URL is no link


def test_json_feed_recognised_by_its_shape_under_any_media_type():
    body = b"\n  " + json_feed([{"id": "1", "url": "https://news.example/x", "title": "T"}])
    for ctype in ("application/json", "text/plain", ""):
        assert [e.link for e in parse(body, ctype).entries] == ["https://news.example/x"]


def test_xml_served_as_json_is_still_read_as_a_feed():
    body = rss("Mislabelled", [{"title": "Sednaya", "link": "https://news.example/s"}]).encode()
    assert [e.link for e in parse(body, "application/json").entries] == ["https://news.example/s"]


def test_a_huge_json_feed_is_capped_like_any_feed():
    body = json_feed([{"id": str(i), "url": f"https://news.example/{i}", "title": "T" * 2_000_000,
                       "content_text": "S" * 3_000_000} for i in range(3)])
    parsed = parse_feed(body, feed_name="Desk", feed_url=FEED, content_type="",
                        max_title_chars=300, max_summary_chars=1000)
    assert [len(e.title) for e in parsed.entries] == [300] * 3
    assert all(len(e.summary) <= 1000 for e in parsed.entries)


def test_json_feed_fields_of_the_wrong_type_count_as_absent():
    body = json_feed([{"id": 7, "url": ["https://x"], "title": {"a": 1},
                       "external_url": "https://news.example/7", "summary": 12,
                       "content_text": "kept", "date_published": 2024},
                      "a string", None, [1, 2],
                      {"url": "javascript:alert(1)", "title": "script link"}])
    parsed = parse(body)
    [entry] = parsed.entries
    assert (entry.link, entry.guid, entry.summary, entry.published) == (
        "https://news.example/7", "7", "kept", None)
    assert entry.title == "kept"                       # no title: the summary names it
    assert parsed.skipped[:3] == ["entry 2: a str, not an object",
                                  "entry 3: a NoneType, not an object",
                                  "entry 4: a list, not an object"]
    assert "scheme 'javascript' refused" in parsed.skipped[3]


@pytest.mark.parametrize("body, says", [
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    (b'{"a":' * 200_000 + b"1" + b"}" * 200_000, "nested too deeply"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": [' + b"9" * 100_000 + b"]}",
     "not JSON"),
    (b'{"version": "2.0", "items": []}', "not a JSON Feed"),
    (b'["https://jsonfeed.org/version/1"]', "not a JSON Feed"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": {"a": 1}}', "not a list"),
    ('{"version": "https://jsonfeed.org/version/1", "title": "é"}'.encode("latin-1"),
     "not UTF-8"),
])
def test_hostile_json_is_one_clear_feed_error_naming_the_feed(body, says):
    with pytest.raises(FeedError) as caught:
        parse(body, url="https://user:secret@news.example/feed.json?token=t0k")
    message = str(caught.value)
    assert message.startswith("feeds: ") and says in message
    assert "news.example/feed.json" in message and "secret" not in message
    assert "t0k" not in message


def test_json_feed_through_a_whole_cycle_next_to_a_broken_one(web, env, tmp_path):
    good = web.add("/feeds/desk.json", json_feed([
        {"id": "1", "url": web.url("/gone/prison"), "title": "Syria: prisoners released",
         "content_text": "Thousands of detainees were released from Sednaya prison."},
        {"id": "2", "url": web.url("/gone/games"), "title": "New video game out",
         "content_html": "<p>A racing game.</p>"},
    ]), content_type="application/feed+json")
    bad = web.add("/feeds/bad.json", b'{"version": "https://jsonfeed.org/version/1", "items": 5}',
                  content_type="application/feed+json")
    rss_url = web.add("/feeds/world.xml", rss("World", [
        {"title": "Syria: prison guards charged", "link": web.url("/gone/guards"),
         "description": "Detainees describe torture."}]), content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "Desk", "url": good}, {"name": "Bad", "url": bad},
                                  {"name": "World", "url": rss_url}])
    _, store, summary = run_in_process(cfg, env)
    rows = {r["url"].rsplit("/", 1)[1]: r for r in export_rows(store)}
    assert rows["prison"]["status"] == "new" and rows["games"]["status"] == "off_topic"
    assert {"Sednaya", "Prisoners released"} <= set(rows["prison"]["alerts"])
    assert rows["guards"]["status"] == "new"            # the other feeds lost nothing
    assert summary.feeds_failed == 1


def test_a_page_advertising_a_json_feed_is_followed(web, env, tmp_path):
    feed = web.add("/feeds/desk.json", json_feed([
        {"id": "1", "url": web.url("/gone/sednaya"), "title": "Sednaya prison opened"}]),
        content_type="application/feed+json")
    home = web.add("/", f'<!DOCTYPE html><html><head><link rel="alternate" '
                   f'type="application/feed+json" href="{feed}"></head><body>hi</body></html>')
    _, store, summary = run_in_process(write_config(tmp_path, [{"name": "Home", "url": home}]), env)
    assert [r["status"] for r in export_rows(store)] == ["new"] and summary.feeds_failed == 0


# ------------------------------------------------------------------ charsets

def arabic_rss(prolog: bool = True, base: str = "https://ar.example") -> str:
    doc = rss("أخبار سوريا", [{"title": s[:70], "link": f"{base}/gone/{i}",
                               "description": s} for i, s in enumerate(A0)])
    return doc if prolog else doc.split("?>", 1)[1]


@pytest.mark.parametrize("body, charset, says", [
    (arabic_rss().encode("cp1256"), "utf-8", "declared utf-8, but the bytes are cp1256"),
    (arabic_rss(prolog=False).encode("cp1256"), None, "no charset declared, but the bytes are cp1256"),
    (arabic_rss().encode("cp1256"), "iso-8859-1", "declared iso8859-1, but the bytes are cp1256"),
    (arabic_rss().encode("utf-8"), "iso-8859-1", "declared iso8859-1, but the bytes are utf-8"),
    (arabic_rss().replace('"utf-8"', '"windows-1252"').encode("utf-8"), None,
     "declared cp1252, but the bytes are utf-8"),
    (arabic_rss().replace('"utf-8"', '"windows-1256"').encode("cp1256"), "utf-8",
     "declared utf-8, but the bytes are cp1256 (as its XML declaration says)"),
])
def test_a_lying_charset_is_detected_and_said(body, charset, says):
    parsed = parse(body, "application/rss+xml", charset)
    assert [e.summary for e in parsed.entries] == A0
    assert parsed.title == "أخبار سوريا"
    [note] = parsed.notes
    assert note.startswith("charset: ") and says in note


@pytest.mark.parametrize("text, codec, charset", [
    (arabic_rss(), "utf-8", "utf-8"),
    (arabic_rss(), "utf-8", None),
    (arabic_rss().replace('"utf-8"', '"windows-1256"'), "cp1256", None),
    (arabic_rss(), "cp1256", "windows-1256"),
    (rss("Café", [{"title": "Naïve façade à Genève", "link": "https://fr.example/1",
                   "description": "Déjà vu: l'été, où ça?"}]), "cp1252", "windows-1252"),
    (rss("Plain", [{"title": "ASCII only", "link": "https://en.example/1"}]), "ascii", "utf-8"),
])
def test_a_right_charset_is_left_alone(text, codec, charset):
    body = text.encode(codec)
    assert fit_charset(body, charset) == (body, charset, None)
    assert parse(body, "application/rss+xml", charset).notes == []


def test_undetectable_bytes_fall_back_to_the_parser_with_a_note():
    body = (b'<rss version="2.0"><channel><title>x</title><item><title>\xff\xfe\x00\x81'
            b'</title><link>https://x.example/1</link></item></channel></rss>')
    parsed = parse(body, "application/rss+xml", "utf-8")
    assert [e.link for e in parsed.entries] == ["https://x.example/1"]
    assert len(parsed.notes) == 1 and parsed.notes[0].startswith("charset: declared utf-8")


def test_arabic_feed_in_windows_1256_under_a_utf8_header_alerts_in_a_cycle(
        web, env, tmp_path, caplog):
    url = web.add("/feeds/ar.xml", arabic_rss(base=web.base).encode("cp1256"),
                  content_type="application/rss+xml; charset=utf-8")
    cfg = write_config(tmp_path, [{"name": "Arabic Desk", "url": url}],
                       topic={"any": ["صيدنايا", "معتقل*", "سجن*"]})
    with caplog.at_level(logging.WARNING, logger="newswatch"):
        _, store, summary = run_in_process(cfg, env)
    rows = {r["url"]: r for r in export_rows(store)}
    sednaya = [r for r in rows.values() if "Sednaya" in r["alerts"]]
    assert {r["title"] for r in sednaya} == {A0[2][:70].strip(), A0[5][:70].strip()}
    assert all(r["status"] == "new" for r in sednaya) and summary.feeds_failed == 0
    assert any("bytes are cp1256" in r.getMessage() and "/feeds/ar.xml" in r.getMessage()
               for r in caplog.records)


CHARDET = Path(__file__).parent / "fixtures" / "feedparser" / "illformed" / "chardet"


@pytest.mark.parametrize("path", sorted(CHARDET.glob("*.xml")), ids=lambda p: p.stem)
def test_feedparsers_undeclared_legacy_charsets_are_detected_as_it_expects(path):
    # each file says what feedparser (with chardet) expects: "encoding == 'KOI8-R'"
    body = path.read_bytes()
    expected = body.split(b"encoding == '", 1)[1].split(b"'", 1)[0].decode()
    fixed, charset, note = fit_charset(body, None)
    assert charset == "utf-8" and f"bytes are {codecs.lookup(expected).name} " in note
    assert fixed.decode("utf-8") == body.decode(expected)

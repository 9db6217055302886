"""The feeds stage on real feed shapes: RSS, Atom, relative links, missing
fields, HTML pages where a feed was expected."""

from datetime import timezone

import pytest

from newsweb import rss
from pipeline.errors import FeedError
from pipeline.feeds import discover_feed_links, parse_feed

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom test</title>
<entry><title type="html">Freed &lt;b&gt;detainees&lt;/b&gt; return</title>
<link rel="alternate" href="/news/1"/><id>tag:x,2024:1</id>
<updated>2024-12-09T06:46:00Z</updated><summary>Families &amp; friends wait.</summary></entry>
<entry><title>No link here</title><id>urn:uuid:1</id></entry>
</feed>"""


def test_rss_entries_become_records():
    body = rss("T", [{"title": "One", "link": "https://example.org/a?id=1",
                      "description": "<p>Hello <b>world</b> &amp; more</p>"}]).encode()
    parsed = parse_feed(body, feed_name="Example", feed_url="https://example.org/feed")
    (e,) = parsed.entries
    assert e.title == "One" and e.link == "https://example.org/a?id=1"
    assert e.summary == "Hello world & more"
    assert e.published.tzinfo == timezone.utc and e.feed_name == "Example"


def test_atom_relative_links_resolved_and_linkless_entries_skipped():
    parsed = parse_feed(ATOM, feed_name="A", feed_url="https://example.org/feeds/atom.xml")
    assert [e.link for e in parsed.entries] == ["https://example.org/news/1"]
    assert parsed.entries[0].title == "Freed detainees return"
    assert parsed.entries[0].published.isoformat() == "2024-12-09T06:46:00+00:00"
    assert parsed.skipped == ["entry 2: no link"]


def test_title_less_entry_named_by_its_summary():
    body = b"""<rss version="2.0"><channel><title>x</title><item>
    <link>http://example.org/1</link><description>Dozens of detainees were freed today
    from a prison near the capital, witnesses said.</description></item></channel></rss>"""
    (e,) = parse_feed(body, feed_name="x", feed_url="http://example.org/rss").entries
    assert e.title.startswith("Dozens of detainees") and e.published is None


def test_script_in_fields_is_not_text():
    body = rss("T", [{"title": "<script>alert(1)</script>Headline",
                      "link": "http://example.org/x",
                      "description": "<script>alert(2)</script><b>Body</b>"}]).encode()
    (e,) = parse_feed(body, feed_name="x", feed_url="http://example.org/rss").entries
    assert "<" not in e.title and "alert(2)" not in e.summary and "Body" in e.summary


def test_non_http_links_are_skipped():
    body = rss("T", [{"title": "a", "link": "javascript:alert(1)", "guid": "x1"},
                     {"title": "b", "link": "file:///etc/passwd", "guid": "x2"}]).encode()
    parsed = parse_feed(body, feed_name="x", feed_url="http://example.org/rss")
    assert parsed.entries == [] and len(parsed.skipped) == 2


def test_html_page_names_its_feed():
    page = b"""<!DOCTYPE html><html><head>
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    <link rel="stylesheet" href="/s.css"></head><body>Hi</body></html>"""
    parsed = parse_feed(page, feed_name="x", feed_url="https://example.org/news/",
                        content_type="text/html")
    assert parsed.entries == [] and parsed.discovered == ["https://example.org/rss.xml"]
    assert discover_feed_links(page, "https://example.org/") == ["https://example.org/rss.xml"]


def test_html_page_without_feed_link_is_a_clear_error():
    with pytest.raises(FeedError, match="HTML page"):
        parse_feed(b"<!DOCTYPE html><html><body>Nothing</body></html>", feed_name="x",
                   feed_url="https://example.org/", content_type="text/html")


@pytest.mark.parametrize("body", [b"", b"\x00\xff\xfe garbage", b"{\"json\": true}",
                                  b"<rss><channel><item><title>unterminated"])
def test_garbage_is_a_feed_error_or_empty(body):
    try:
        parsed = parse_feed(body, feed_name="x", feed_url="http://example.org/rss")
    except FeedError as exc:
        assert str(exc).startswith("feeds: ") and "http://example.org/rss" in str(exc)
    else:
        assert all(e.link.startswith("http") for e in parsed.entries)

"""Every document of feedparser's own test corpus through ``parse_feed``.

~1,770 real-world feed shapes (RSS, Atom, CDF, RDF, xml:base, HTTP-header
cases, broken XML, odd encodings and 745 hostile ``sanitize/`` feeds): none may
make an exception escape the feeds stage. ``FeedError`` is the one allowed,
clear outcome, and it must stay rare for the well-formed ones. Every entry that
comes out has an absolute http(s) link and a title; every entry that does not
is accounted for by a reason.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import feedparser
import pytest

from pipeline.errors import FeedError
from pipeline.feeds import parse_feed

CORPUS = Path(__file__).parent / "fixtures" / "feedparser"
DOC_URI = "http://127.0.0.1:8097/"      # the document URI feedparser's own suite serves from
_HEADER = re.compile(r"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.M)
_EXPECT = re.compile(r"^Expect:\s*(.*)$", re.M)


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*.xml") if p.is_file())


def fetch_context(path: Path) -> dict:
    """What an HTTP response would have told parse_feed: the URL the feed came
    from (its ``Content-Location`` if the case sets an absolute one) and its
    Content-Type."""
    head = path.read_bytes()[:2000].decode("latin-1")
    headers = {k.lower(): v for k, v in _HEADER.findall(head)}
    url = DOC_URI + path.relative_to(CORPUS).as_posix()
    location = headers.get("content-location", "")
    if location.startswith(("http://", "https://")):
        url = location
    return {"feed_url": url, "content_type": headers.get("content-type", "").split(";")[0]}


def test_corpus_is_complete():
    files = corpus_files()
    by_top = Counter(p.relative_to(CORPUS).parts[0] for p in files)
    assert len(files) >= 1760, len(files)
    assert by_top["wellformed"] >= 1740 and by_top["illformed"] >= 15
    assert len(list((CORPUS / "wellformed" / "sanitize").glob("*.xml"))) >= 740
    assert (CORPUS / "LICENSE").read_text().count("Kurt McKee") >= 1


def entry_problems(rel: str, entries) -> list[str]:
    """What is wrong with the kept entries of one file: every link absolute
    http(s), every entry titled, every date timezone-aware."""
    problems = []
    for e in entries:
        if not re.match(r"https?://[^/\s]+", e.link):
            problems.append(f"{rel}: link {e.link!r} is not absolute http(s)")
        if not e.title.strip():
            problems.append(f"{rel}: entry {e.link} has no title")
        if e.published is not None and e.published.utcoffset() is None:
            problems.append(f"{rel}: naive published date")
    return problems


def test_every_corpus_file_parses_or_is_a_clear_feed_error():
    started = time.monotonic()
    outcome: Counter[tuple[str, str]] = Counter()
    escaped, bad_entries, raw_total, kept_total, skipped_total = [], [], 0, 0, 0
    untitled_raw = titled_fallbacks = 0
    for path in corpus_files():
        rel = path.relative_to(CORPUS).as_posix()
        top = rel.split("/")[0] if not rel.startswith("wellformed/sanitize/") else "sanitize"
        ctx = fetch_context(path)
        body = path.read_bytes()
        try:
            parsed = parse_feed(body, feed_name="corpus", **ctx)
        except FeedError as exc:
            outcome[top, "feed error"] += 1
            message = str(exc)
            assert message.startswith("feeds: ") and ctx["feed_url"] in message, (rel, message)
            continue
        except Exception as exc:  # the finding this test exists for
            escaped.append(f"{rel}: {type(exc).__name__}: {exc}")
            continue
        outcome[top, "entries" if parsed.entries else "no entries"] += 1
        # every entry feedparser saw is either kept or skipped with a reason
        raw = feedparser.parse(body, response_headers={"content-location": ctx["feed_url"]})
        raw_total += len(raw.entries)
        kept_total += len(parsed.entries)
        skipped_total += len(parsed.skipped)
        if len(parsed.entries) + len(parsed.skipped) != len(raw.entries):
            bad_entries.append(f"{rel}: {len(raw.entries)} raw entries, "
                               f"{len(parsed.entries)} kept + {len(parsed.skipped)} skipped")
        for reason in parsed.skipped:
            if not re.fullmatch(r"entry \d+: .+", reason):
                bad_entries.append(f"{rel}: skip reason {reason!r}")
        for raw_entry, e in zip([r for r in raw.entries if r.get("link") or r.get("id")],
                                parsed.entries):
            if not raw_entry.get("title"):
                untitled_raw += 1
                titled_fallbacks += bool(e.title)
        bad_entries += entry_problems(rel, parsed.entries)
    elapsed = time.monotonic() - started

    assert escaped == [], "exceptions escaped parse_feed:\n" + "\n".join(escaped[:20])
    assert bad_entries == [], "\n".join(bad_entries[:20])
    totals = Counter()
    for (top, kind), n in outcome.items():
        totals[top] += n
    # the well-formed corpus (sanitize included) almost always parses: a feed
    # error there must stay a rare exception (CDF channels without items)
    for top in ("wellformed", "sanitize"):
        assert outcome[top, "feed error"] <= 0.01 * totals[top], (top, outcome)
    assert totals["wellformed"] + totals["sanitize"] + totals["illformed"] >= 1760
    # the corpus mostly tests feed-level fields: many entries have no link and are
    # skipped (with a reason), but hundreds come through
    assert kept_total >= 80 and skipped_total >= 500 and raw_total == kept_total + skipped_total
    assert untitled_raw >= 5 and titled_fallbacks == untitled_raw
    assert elapsed < 20, f"corpus took {elapsed:.1f}s"


def _link_expectations() -> list[tuple[Path, str]]:
    cases = []
    for path in corpus_files():
        head = path.read_bytes()[:2000].decode("latin-1")
        m = _EXPECT.search(head)
        if not m:
            continue
        want = re.search(r"entries\[0\]\['link'\] == '(https?://[^']*)'", m.group(1))
        if not want and path.parent.name == "base":
            want = re.search(r"entries\[0\]\['links'\]\[0\]\['href'\] == '(https?://[^']*)'",
                             m.group(1))
        if want:
            cases.append((path, want.group(1)))
    return cases


def test_entry_links_match_feedparsers_own_expectations():
    """Corpus cases that state the entry's link, relative ones included (resolved
    against Content-Location or the document URI)."""
    cases = _link_expectations()
    assert len(cases) >= 15
    relative = 0
    for path, want in cases:
        text = path.read_text("utf-8", errors="replace")
        relative += "relative" in text.split("-->")[-1] or "/relative/" in want
        parsed = parse_feed(path.read_bytes(), feed_name="corpus", **fetch_context(path))
        assert parsed.entries, path.name
        assert parsed.entries[0].link == want, path.name
    assert relative >= 4


RELATIVE_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Root-relative</title><link>/news/2024/detainees.html</link></item>
<item><title>Path-relative</title><link>item?id=7</link></item>
<item><title>Scheme-relative</title><link>//cdn.example.net/a</link></item>
<item><title>Guid only</title><guid isPermaLink="true">../archive/9</guid></item>
<item><title>Javascript</title><link>javascript:alert(1)</link></item>
<item><title>No link at all</title><description>nothing to open</description></item>
<item><link>https://example.org/untitled</link><description>Families of detainees
gathered outside the court on Monday to demand news of relatives held since 2012.</description></item>
<item><link>https://example.org/bare</link></item>
</channel></rss>"""


def test_relative_links_resolved_and_missing_fields_fall_back():
    parsed = parse_feed(RELATIVE_RSS, feed_name="Desk",
                        feed_url="https://example.org/feeds/world/rss.xml")
    links = {e.title: e.link for e in parsed.entries}
    assert links["Root-relative"] == "https://example.org/news/2024/detainees.html"
    assert links["Path-relative"] == "https://example.org/feeds/world/item?id=7"
    assert links["Scheme-relative"] == "https://cdn.example.net/a"
    assert links["Guid only"] == "https://example.org/feeds/archive/9"
    untitled = next(e for e in parsed.entries if e.link == "https://example.org/untitled")
    assert untitled.title.startswith("Families of detainees gathered")
    bare = next(e for e in parsed.entries if e.link == "https://example.org/bare")
    assert bare.title == "https://example.org/bare"          # no title, no summary: the link
    assert all(e.published is None for e in parsed.entries)  # no dates: stored as unknown
    assert len(parsed.entries) == 6
    assert len(parsed.skipped) == 2 and all("link" in r for r in parsed.skipped)


def test_relative_links_never_inherit_feed_credentials():
    """A feed URL with user:password@ (Basic auth) or a token in its query: a
    relative entry link must not carry those into the stored URL, the export and
    every article request."""
    parsed = parse_feed(RELATIVE_RSS, feed_name="Desk",
                        feed_url="https://alice:s3cret@example.org/feeds/rss.xml?token=tok42")
    for e in parsed.entries:
        assert "s3cret" not in e.link and "alice" not in e.link and "tok42" not in e.link, e.link


@pytest.mark.parametrize("charset_file", sorted((CORPUS / "illformed" / "chardet").glob("*.xml")),
                         ids=lambda p: p.stem)
def test_legacy_encodings_give_text_not_mojibake_errors(charset_file):
    """Feeds in Big5, EUC-JP, KOI8-R, windows-1255 … (declared wrongly or not at
    all): parse_feed returns or raises FeedError, and any title is valid text."""
    try:
        parsed = parse_feed(charset_file.read_bytes(), feed_name="x",
                            feed_url="http://example.org/feed")
    except FeedError:
        return
    assert "\x00" not in parsed.title
    for e in parsed.entries:
        e.title.encode("utf-8")

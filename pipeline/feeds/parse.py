"""The feeds stage: feed bytes in, typed entries out.

feedparser is only ever given bytes (never a URL or a path: it would fetch
``file://`` and other URLs itself). Entries without a usable link are skipped
with a reason; relative links are resolved against the feed's URL.

What a feed sends is made safe here, once (``pipeline.sanitize``): control
characters and terminal escapes removed, titles and summaries capped, dates
outside [1990-01-01, now + 1 day] taken as unknown, and numeric character
references to no character (``&#xD800;``, which made feedparser raise and lose
every entry of the feed) repaired before parsing. ``parse_feed`` is a pure
function of its arguments, safe to run in a thread.
"""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
from lxml import etree
from lxml import html as lxml_html

from pipeline.errors import FeedError
from pipeline.feeds.charsets import fit_charset
from pipeline.feeds.googlenews import entry_source
from pipeline.feeds.jsonfeed import looks_like_json_feed, read_json_feed
from pipeline.redact import redact_url
from pipeline.records import FeedEntry
from pipeline.sanitize import (cap_text, clean_external_text, clean_line,
                               repair_character_references)

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
              "application/rdf+xml", "application/xml", "text/xml")
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json;q=0.9, "
          "application/rdf+xml;q=0.9, "
          "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")
_TAG = re.compile(r"<[^>]*>")
MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 20_000
_MARKUP_PER_CHAR = 10     # raw markup read per character kept: bounds the HTML parse
_EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)


@dataclass
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    skipped: list[str] = field(default_factory=list)    # one reason per skipped entry
    discovered: list[str] = field(default_factory=list)  # feed links found in an HTML page
    notes: list[str] = field(default_factory=list)       # what was done to read it (charset)


@dataclass(frozen=True)
class _Limits:
    now: datetime                 # dates after now + 1 day are unknown
    title_chars: int
    summary_chars: int


def parse_feed(body: bytes, *, feed_name: str, feed_url: str,
               content_type: str = "", charset: str | None = None,
               now: datetime | None = None, max_title_chars: int = MAX_TITLE_CHARS,
               max_summary_chars: int = MAX_SUMMARY_CHARS) -> ParsedFeed:
    """Parse feed bytes into entries; raise FeedError when there is no feed at all.

    An HTML page where a feed was expected gives a ParsedFeed with no entries
    and the feed links the page advertises in ``discovered``. ``now`` (default:
    the clock) bounds the publication dates believed.
    """
    base, shown = link_base(feed_url), redact_url(feed_url)
    headers = {"content-location": base}
    notes: list[str] = []
    if not looks_like_json_feed(body, content_type):
        body, charset, note = fit_charset(body, charset)
        notes += [note] if note else []
    if content_type:
        headers["content-type"] = content_type + (f"; charset={charset}" if charset else "")
    limits = _Limits(now or datetime.now(timezone.utc), max_title_chars, max_summary_chars)
    if looks_like_json_feed(body, content_type):
        title, raws, skipped = read_json_feed(body, shown)
        entries, skipped = _entries(raws, feed_name, feed_url, base, limits, skipped)
        return ParsedFeed(title=_plain(title, max_title_chars), entries=entries, skipped=skipped)
    try:
        parsed = feedparser.parse(repair_character_references(body), response_headers=headers)
    except Exception as exc:  # feedparser promises not to raise; a bug in it must not stop the cycle
        raise FeedError(f"parser failed: {type(exc).__name__}: {exc}", url=shown) from exc
    entries, skipped = _entries(parsed.entries, feed_name, feed_url, base, limits, [])
    title = (_plain(parsed.feed.get("title", ""), max_title_chars)
             if parsed.get("feed") else "")
    if parsed.entries or (parsed.get("version") and not parsed.get("bozo")):
        return ParsedFeed(title=title, entries=entries, skipped=skipped, notes=notes)
    if _looks_like_html(body, content_type):
        links = discover_feed_links(body, base)
        if links:
            return ParsedFeed(title=title, entries=[], discovered=links)
        raise FeedError("got an HTML page, not a feed, and it names no feed link", url=shown)
    if parsed.get("version"):
        return ParsedFeed(title=title, entries=entries, skipped=skipped, notes=notes)
    problem = parsed.get("bozo_exception")
    detail = f": {type(problem).__name__}: {problem}" if problem else ""
    raise FeedError(clean_line(f"not a feed{detail}")[:300], url=shown)


def link_base(feed_url: str) -> str:
    """The feed URL as a base for relative links: without ``user:password@`` and
    query, so a link resolved against it never carries the feed's credentials or
    token (into the database, the export, or every article request)."""
    try:
        parts = urlsplit(feed_url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _entries(raws, feed_name: str, feed_url: str, base: str, limits: _Limits,
             skipped: list[str]) -> tuple[list[FeedEntry], list[str]]:
    entries = []
    for i, raw in enumerate(raws):
        entry, reason = _entry(raw, feed_name, feed_url, base, limits)
        if entry is None:
            skipped.append(f"entry {i + 1}: {reason}")
        else:
            entries.append(entry)
    return entries, skipped


def _entry(raw, feed_name: str, feed_url: str, base: str, limits: _Limits
           ) -> tuple[FeedEntry | None, str]:
    link, refused = _link(raw, base)
    if not link:
        return None, f"no http(s) link ({refused})" if refused else "no link"
    title = _plain(raw.get("title", ""), limits.title_chars)
    summary = _plain(raw.get("summary", "") or _first_content(raw), limits.summary_chars)
    if not title:
        # a title-less entry (allowed in RSS) is named by its summary's start
        title = (summary[:90] + "…") if len(summary) > 90 else summary
    guid = clean_line(str(raw.get("id", "") or "")[:2000])[:500]
    source_url, source_title = entry_source(raw)     # how Google News names the publisher
    return FeedEntry(feed_name=feed_name, feed_url=feed_url, link=link,
                     title=title or link, summary=summary,
                     published=_published(raw, limits.now), guid=guid,
                     source_url=source_url, source_title=clean_line(source_title)), ""


def _link(raw, feed_url: str) -> tuple[str | None, str]:
    """The entry's absolute http(s) link, or None and what was refused (a
    ``javascript:``, ``data:`` or ``file:`` link is content, never fetched)."""
    candidates = [raw.get("link")]
    candidates += [l.get("href") for l in raw.get("links", []) if l.get("rel") == "alternate"]
    links = len(candidates)      # a guid that is no URL (urn:, tag:) is not a refused link
    guid = raw.get("id")
    if guid and raw.get("guidislink", True):
        candidates.append(guid)
    refused: list[str] = []
    for n, link in enumerate(candidates):
        if not link or not isinstance(link, str):
            continue
        absolute = urljoin(feed_url, clean_external_text(link).strip())
        parts = urlsplit(absolute)
        if parts.scheme in ("http", "https") and parts.netloc:
            return absolute, ""
        if n < links and parts.scheme not in ("urn", "tag"):   # ids copied as links
            refused.append(f"scheme {parts.scheme or 'none'!r} refused" if parts.scheme
                           not in ("http", "https") else "no host")
    return None, ", ".join(dict.fromkeys(refused))


def _first_content(raw) -> str:
    for content in raw.get("content", []) or []:
        if content.get("value"):
            return content["value"]
    return ""


def _published(raw, now: datetime) -> datetime | None:
    """The entry's first believable date. One before 1990 or more than a day
    ahead is a feed's bug (year 1, year 9999): unknown, so the time it was
    found stands in, and no renderer or story clock ever sees it."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            try:
                when = datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, OSError, TypeError):
                continue
            if _EARLIEST <= when <= now + timedelta(days=1):
                return when
    return None


def _plain(value: str, limit: int) -> str:
    """Text of a feed field: markup dropped, entities decoded, whitespace
    collapsed, made safe and cut to ``limit`` characters."""
    if not value:
        return ""
    value = clean_external_text(value[:limit * _MARKUP_PER_CHAR])
    if "<" in value:
        try:
            doc = lxml_html.fromstring(value)
            for bad in doc.xpath("//script|//style"):
                bad.drop_tree()
            value = doc.text_content()
        except (etree.ParserError, ValueError):
            value = _TAG.sub(" ", value)
    return cap_text(clean_line(html.unescape(value)), limit)


def _looks_like_html(body: bytes, content_type: str) -> bool:
    head = body[:2048].lstrip().lower()
    return "html" in content_type or head.startswith((b"<!doctype html", b"<html"))


def discover_feed_links(body: bytes, base_url: str) -> list[str]:
    """The RSS/Atom links an HTML page advertises (``<link rel="alternate" …>``)."""
    try:
        doc = lxml_html.fromstring(body)
    except (etree.ParserError, ValueError):
        return []
    links = []
    for el in doc.xpath("//link[@href]"):
        rel = (el.get("rel") or "").lower().split()
        kind = (el.get("type") or "").lower().strip()
        if "alternate" in rel and kind in FEED_TYPES:
            url = urljoin(base_url, clean_external_text(el.get("href")).strip())
            if urlsplit(url).scheme in ("http", "https") and url not in links:
                links.append(url)
    return links

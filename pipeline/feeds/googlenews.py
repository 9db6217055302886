"""Google News article links: which entries carry one, and what is behind it.

A Google News feed (``news.google.com/rss/search?...``) links every entry to
``https://news.google.com/rss/articles/<id>``, a page that only redirects in a
browser. The id is base64url of a small protobuf. Ids made before mid-2024
("old style") carry the publisher's URL in it, so it is read here with no
request at all. Newer ids carry an opaque token (its payload starts
``AU_yqL``); Google resolves those through its ``batchexecute`` endpoint, and
this module only builds that request and reads its answer (the HTTP is the
caller's: ``pipeline.links``). The protocol is the one the maintained decoders
use (googlenewsdecoder, newspaper4k #645).

Pure functions on strings and bytes: nothing here fetches, stores or logs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from lxml import html as lxml_html

from pipeline.errors import FeedError

# the paths that name an article id, whatever host serves them
_ARTICLE_PATH = re.compile(
    r"^/(?:__i/rss/rd/)?(?:rss/articles|articles|read)/([A-Za-z0-9_-]{8,})/?$")
# field 1 (a varint: 19 since about 2020, 2 before), then field 4 (the URL), length-prefixed
_PREFIX = re.compile(rb"\x08[\x00-\x7f]\x22", re.DOTALL)
_NEW_STYLE = b"AU_yqL"
BATCH_PATH = "/_/DotsSplashUi/data/batchexecute"
ARTICLE_PAGES = ("/rss/articles/{id}", "/articles/{id}")   # tried in this order


class GoogleNewsError(FeedError):
    """What Google answered cannot be read (no signature, no URL in the answer)."""


@dataclass(frozen=True)
class Decoded:
    """What an id says offline: the publisher's URL, or that it needs a request."""

    url: str | None = None            # the publisher's URL (old-style ids)
    needs_request: bool = False       # a new-style token: only batchexecute knows


def article_id(link: str) -> str | None:
    """The Google News article id of ``link``, or None when it names none."""
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    match = _ARTICLE_PATH.match(parts.path)
    return match.group(1) if match else None


def alias_key(article: str) -> str:
    """How an id is remembered: the same for every path and host that serves it."""
    return f"/rss/articles/{article}"


def decode_offline(article: str) -> Decoded:
    """Read ``article`` (an id) with no request. An id that is neither style is
    treated like a new one: Google may still know it."""
    try:
        raw = base64.urlsafe_b64decode(article + "=" * (-len(article) % 4))
    except (binascii.Error, ValueError):
        return Decoded(needs_request=True)
    if not _PREFIX.match(raw):
        return Decoded(needs_request=True)
    payload = _length_prefixed(raw, 3)
    if payload is None or payload.startswith(_NEW_STYLE):
        return Decoded(needs_request=True)
    try:
        url = payload.decode("utf-8")
    except UnicodeDecodeError:
        return Decoded(needs_request=True)
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        return Decoded(needs_request=True)
    return Decoded(url=url)


def _length_prefixed(raw: bytes, at: int) -> bytes | None:
    """The bytes of a protobuf length-delimited field whose varint length starts
    at ``at``; None when it runs past the end."""
    length, shift = 0, 0
    while at < len(raw):
        byte = raw[at]
        at += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            end = at + length
            return raw[at:end] if end <= len(raw) else None
        if shift > 28:
            return None
    return None


def decoding_params(page: bytes, url: str = "") -> tuple[str, str]:
    """(signature, timestamp) from an article page: the ``data-n-a-sg`` and
    ``data-n-a-ts`` of its ``c-wiz > div[jscontroller]``."""
    try:
        doc = lxml_html.fromstring(page)
    except (ValueError, lxml_html.etree.ParserError) as exc:
        raise GoogleNewsError(f"the Google News article page is no HTML ({exc})",
                              url=url) from exc
    for div in doc.xpath("//c-wiz/div[@jscontroller]"):
        sig, ts = div.get("data-n-a-sg"), div.get("data-n-a-ts")
        if sig and ts and ts.isdigit():
            return sig, ts
    raise GoogleNewsError("the Google News article page has no signature (data-n-a-sg, "
                          "data-n-a-ts)", url=url)


def batch_form(article: str, timestamp: str, signature: str) -> bytes:
    """The urlencoded body of the batchexecute POST for one id."""
    inner = ('["garturlreq",[["X","X",["X","X"],null,null,1,1,"US:en",null,1,null,null,'
             'null,null,null,0,1],"X","X",1,[1,1,1],1,1,null,0,0,null,0],'
             f'{json.dumps(article)},{int(timestamp)},{json.dumps(signature)}]')
    req = [[["Fbv4je", inner, None, "generic"]]]
    return urlencode({"f.req": json.dumps(req, separators=(",", ":"))}).encode()


def url_from_batch(body: bytes, url: str = "") -> str:
    """The publisher's URL in a batchexecute answer: the JSON after the ``)]}'``
    line, whose ``[0][2]`` is a JSON string whose ``[1]`` is the URL."""
    text = body.decode("utf-8", errors="replace")
    if text.startswith(")]}'"):
        text = text.split("\n", 1)[-1]
    start = text.find("[")       # past blank lines and, when chunked, a length line
    try:
        outer, _ = json.JSONDecoder().raw_decode(text, max(start, 0))
        found = json.loads(outer[0][2])[1]
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise GoogleNewsError(f"the batchexecute answer holds no URL ({exc})", url=url) from exc
    if not isinstance(found, str) or urlsplit(found).scheme not in ("http", "https"):
        raise GoogleNewsError("the batchexecute answer holds no http(s) URL", url=url)
    return found


def entry_source(raw) -> tuple[str, str]:
    """(URL, name) of an entry's RSS ``<source url="...">Name</source>`` (what a
    Google News entry names its publisher by); empty strings when absent."""
    source = raw.get("source") if hasattr(raw, "get") else None
    if not isinstance(source, dict):
        return "", ""
    href, title = source.get("href") or "", source.get("title") or ""
    if not isinstance(href, str) or urlsplit(href.strip()).scheme not in ("http", "https"):
        href = ""
    return href.strip()[:2000], (title if isinstance(title, str) else "").strip()[:300]

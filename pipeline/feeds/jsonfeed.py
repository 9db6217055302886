"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), read with the
standard library's ``json`` into the same raw-entry shape feedparser gives, so
``parse`` makes every entry by the one code path (links checked, text made safe,
dates bounded) whatever the format.

A JSON Feed is recognised by its media type (``application/feed+json``) or by a
body that starts with ``{`` and carries a ``version`` of jsonfeed.org. Anything
else shaped wrongly (not JSON, too deeply nested, ``items`` not a list) is a
``FeedError``; one item of the wrong shape is skipped with a reason.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from pipeline.errors import FeedError
from pipeline.sanitize import clean_line

JSON_FEED_TYPES = ("application/feed+json", "application/json")
_VERSION_PREFIX = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")


def looks_like_json_feed(body: bytes, content_type: str) -> bool:
    """Whether to read ``body`` as JSON: it starts with ``{`` (no RSS, Atom or HTML
    document does), or the media type says JSON and the body is not XML (servers
    send RSS as application/json too)."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    return content_type in JSON_FEED_TYPES and not head.startswith(b"<")


def read_json_feed(body: bytes, shown_url: str) -> tuple[str, list[dict], list[str]]:
    """(feed title, raw entries in feedparser's shape, skipped reasons) of a JSON Feed."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FeedError(f"JSON Feed is not UTF-8 (byte {exc.start})", url=shown_url) from None
    except RecursionError:
        raise FeedError("JSON Feed nested too deeply", url=shown_url) from None
    except ValueError as exc:    # JSONDecodeError, and numbers too long to read
        raise FeedError(clean_line(f"not JSON: {exc}")[:200], url=shown_url) from None
    if not isinstance(doc, dict):
        raise FeedError(f"JSON, but a {type(doc).__name__}, not a JSON Feed object",
                        url=shown_url)
    version = doc.get("version")
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIX):
        raise FeedError("JSON, but not a JSON Feed (no jsonfeed.org version)", url=shown_url)
    items = doc.get("items", [])
    if not isinstance(items, list):
        raise FeedError(f"JSON Feed 'items' is a {type(items).__name__}, not a list",
                        url=shown_url)
    entries, skipped = [], []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            entries.append(_raw_entry(item))
        else:
            skipped.append(f"entry {i + 1}: a {type(item).__name__}, not an object")
    return _text(doc.get("title")), entries, skipped


def _raw_entry(item: dict) -> dict:
    """One item in feedparser's entry shape: ``link``, ``title``, ``summary``,
    ``id``, ``*_parsed`` dates (struct_time, UTC)."""
    # the summary first, as feedparser's description comes before content:encoded
    summary = (_text(item.get("summary")) or _text(item.get("content_html"))
               or _text(item.get("content_text")))
    raw = {"link": _text(item.get("url")) or _text(item.get("external_url")),
           "title": _text(item.get("title")), "summary": summary,
           "id": _text(item.get("id")) if not isinstance(item.get("id"), (int, float))
           else str(item.get("id"))}
    # an id is the permalink only when it is an absolute URL (JSON Feed ids are often not)
    raw["guidislink"] = raw["id"].startswith(("http://", "https://"))
    for key, field in (("published_parsed", "date_published"),
                       ("updated_parsed", "date_modified")):
        when = _date(item.get(field))
        if when is not None:
            raw[key] = when
    return raw


def _text(value) -> str:
    # a field of the wrong type (a number, a list, an object) counts as absent
    return value if isinstance(value, str) else ""


def _date(value) -> time.struct_time | None:
    """An RFC 3339 date as a UTC struct_time; None when absent or unreadable."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return when.astimezone(timezone.utc).utctimetuple()
    except (OverflowError, ValueError):
        return None

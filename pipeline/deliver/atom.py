"""Atom feeds of what Newswatch keeps, so any feed reader can subscribe:
``feeds/all.atom`` (the newest new on-topic items) and one per alert rule
(``feeds/<rule-slug>.atom``), written after each cycle and with the digest.

Written with feedgen (valid Atom 1.0, every text escaped by lxml). Built only
from stored items, so two runs over the same items give the same bytes: ids
are tag URIs of the item's URL, ``updated`` is when the item was found, and a
feed's own ``updated`` is its newest entry's. Files are replaced atomically.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

import storage
from pipeline.deliver.messages import alert_view, text_dir
from pipeline.digest.write import atomic_write
from pipeline.errors import DeliveryError
from pipeline.records import StoredItem

ALL_LIMIT = 100               # entries in all.atom
RULE_LIMIT = 50               # entries in each rule's feed
_TAG = "tag:newswatch,2024:"
_EMPTY_UPDATED = datetime(2024, 1, 1, tzinfo=timezone.utc)   # a feed with no entry yet
# characters XML 1.0 cannot hold (feed text sometimes has them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def rule_slug(name: str) -> str:
    """A file name for a rule's feed: ASCII words joined by "-" (a rule named
    only in Arabic gets a short hash of its name)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    if not slug or slug == "all":
        slug = f"rule-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"
    return slug


def feed_paths(settings) -> dict[str | None, Path]:
    """Where each feed goes: None for all.atom, else the rule's name."""
    folder = Path(settings.output_dir) / "feeds"
    paths: dict[str | None, Path] = {None: folder / "all.atom"}
    used = {"all"}
    for rule in settings.alerts:
        slug = rule_slug(rule.name)
        if slug in used:      # two names with the same slug: keep both feeds apart
            slug = f"{slug}-{hashlib.sha256(rule.name.encode('utf-8')).hexdigest()[:6]}"
        used.add(slug)
        paths[rule.name] = folder / f"{slug}.atom"
    return paths


def write_feeds(settings, store: storage.Store) -> list[Path]:
    """Write every feed; raises DeliveryError when the folder cannot be written."""
    written = []
    for rule, path in feed_paths(settings).items():
        limit = ALL_LIMIT if rule is None else RULE_LIMIT
        items = storage.newest_items(store, limit, rule=rule)
        title = "Newswatch: new on-topic items" if rule is None else f"Newswatch alert: {rule}"
        ident = "feed/all" if rule is None else f"feed/rule/{path.stem}"
        text = atom_feed(items, title=title, ident=ident, tz=settings.tz)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # 0644: a web server (or the reading room) must read it
            atomic_write(path, text, mode=0o644)
        except OSError as exc:
            raise DeliveryError(f"atom: cannot write: {exc.strerror or exc}",
                                url=str(path)) from exc
        written.append(path)
    return written


def atom_feed(items: list[StoredItem], *, title: str, ident: str, tz: ZoneInfo) -> bytes:
    """An Atom 1.0 document of ``items`` (newest first)."""
    fg = FeedGenerator()
    fg.id(_TAG + ident)
    fg.title(title)
    fg.author({"name": "Newswatch"})
    fg.generator("Newswatch")
    fg.subtitle("Found and kept by Newswatch: new, on-topic items, copies removed.")
    fg.updated(max((_found(i) for i in items), default=_EMPTY_UPDATED))
    for item in items:
        _entry(fg, item, tz)
    return fg.atom_str(pretty=True)


def _entry(fg: FeedGenerator, item: StoredItem, tz: ZoneInfo) -> None:
    view = alert_view(item, tz)
    fe = fg.add_entry(order="append")
    fe.id(_TAG + "item/" + hashlib.sha256(item.url.encode("utf-8")).hexdigest()[:32])
    fe.title(_xml(view.title))
    if view.url:
        fe.link(href=view.url, rel="alternate")
    fe.author({"name": _xml(view.source) or "unknown source"})
    fe.updated(_found(item))
    if item.published:
        fe.published(item.published.astimezone(timezone.utc))
    for rule in view.rules:
        fe.category(term=_xml(rule))
    excerpt = "".join(seg for seg, _ in view.snippet)
    fe.summary(_xml(excerpt) or _xml(view.title))
    fe.content(_xml(_content_html(view)), type="html")


def _content_html(view) -> str:
    """The entry's content: source, rules, matched words, the snippet (escaped)."""
    e = html.escape
    meta = f"{view.source} · {view.time}"
    if view.rules:
        meta += f" · alert: {', '.join(view.rules)}"
    if view.keywords:
        meta += f" · matched: {', '.join(view.keywords)}"
    snippet = "".join(f"<mark>{e(s)}</mark>" if hit else e(s) for s, hit in view.snippet)
    body = f'<p dir="{text_dir(meta)}">{e(meta)}</p>'
    if snippet:
        body += f'<p dir="{text_dir(snippet)}">{snippet}</p>'
    if view.note:
        body += f"<p><em>{e(view.note)}</em></p>"
    return body


def _found(item: StoredItem) -> datetime:
    return item.fetched_at.astimezone(timezone.utc)


def _xml(text: str) -> str:
    return _NOT_XML.sub("", str(text or ""))

"""The digest model: what one day's briefing says, as plain records.

:func:`build_digest` is pure: it reads only the :class:`DigestInputs` that one storage
query returned (and the zone, the alert order and the moment it is told), never the
database, the clock or a file. Every output (Markdown, HTML, JSON, and any later one)
renders the :class:`Digest` it returns, so they cannot disagree.

Feed text is made safe to show once, here, for every renderer: links are http(s) without
credentials (else None), bidi embedding/override/isolate controls are removed (they can
reorder the text around them; renderers isolate feed text instead, e.g. ``dir="auto"``),
secrets are redacted from feed errors, and a time no zone can show is shown in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Sequence
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pipeline.match.snippet import snippet
from pipeline.records import ChannelState, DigestInputs, FeedState, RuleMatch, StoredItem
from pipeline.redact import redact_text, redact_url

STATUSES = ("new", "duplicate", "off_topic", "failed")

# LRE RLE PDF LRO RLO and LRI RLI FSI PDI: they change the order of the text that follows
# them, so a title could make its source or the next item read backwards. The marks
# LRM/RLM/ALM only affect their neighbours and are legitimate in Arabic text: kept.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


@dataclass(frozen=True)
class Mention:
    """Another report of a story, or a suppressed copy: who said it and where."""

    title: str
    source: str
    url: str | None


@dataclass(frozen=True)
class DigestItem:
    title: str
    url: str | None                 # http(s) only, credentials removed; else None
    source: str
    time: str                       # local time of publication (or of discovery)
    keywords: list[str] = field(default_factory=list)
    snippet: list[tuple[str, bool]] = field(default_factory=list)
    note: str | None = None         # e.g. "page unavailable: summary from the feed"
    also_reported_by: list[Mention] = field(default_factory=list)


@dataclass(frozen=True)
class AlertGroup:
    rule: str
    items: list[DigestItem]


@dataclass(frozen=True)
class Duplicate:
    """The copies suppressed because they repeat one original (a stored item or a seed)."""

    original: str                   # "title (source)", "seed report <file>" or the URL
    url: str | None
    count: int
    copies: list[Mention]


@dataclass(frozen=True)
class FailingFeed:
    name: str
    url: str                        # redacted
    error: str                      # redacted
    since: str                      # local time of the first failure in a row, or ""
    failures: int


@dataclass(frozen=True)
class FailingChannel:
    """A delivery channel (pipeline.deliver) that failed its last attempts in a row."""

    channel: str                    # redacted: scheme, host and a short id
    error: str                      # redacted
    since: str
    failures: int


@dataclass(frozen=True)
class Digest:
    day: str
    timezone: str
    covers: str                     # the local window of discovery times the digest holds
    generated_at: str
    alert_groups: list[AlertGroup]
    other_items: list[DigestItem]
    counts: dict[str, int]          # items found in the window, by status
    duplicates: list[Duplicate]     # most copied first
    failing_feeds: list[FailingFeed]
    failing_channels: list[FailingChannel] = field(default_factory=list)


def digest_window(day: date, digest_time: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the digest dated ``day``: the items found in the
    local day that ends at ``digest_time`` on ``day`` (from ``digest_time`` the
    day before). The digest written at 07:00 on 9 December is dated
    2024-12-09 and holds everything found since 07:00 on the 8th, so by the
    time it is written no new item can fall into it: a digest regenerated later
    has the same content. A DST day's window is 23 or 25 hours long."""
    start = datetime.combine(day - timedelta(days=1), digest_time, tz)
    end = datetime.combine(day, digest_time, tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def digest_day_of(moment: datetime, digest_time: time, tz: ZoneInfo) -> date:
    """The date of the digest that an item found at ``moment`` appears in."""
    local = moment.astimezone(tz)
    if local.time().replace(tzinfo=None) < digest_time:
        return local.date()
    return local.date() + timedelta(days=1)


def build_digest(inputs: DigestInputs, *, day: date, tz: ZoneInfo,
                 alert_order: Sequence[str], now: datetime) -> Digest:
    """The digest dated ``day`` of what ``inputs`` holds, times shown in ``tz``.

    ``day`` is given, not derived from the window: where the clocks jump past
    ``digest_time`` (23:30 in Nuuk on its DST night) the window ends on the next
    local date. Alert groups follow ``alert_order``, then any other rule by name."""
    items = list(inputs.items)
    leads, followers = _stories([i for i in items if i.status == "new"])
    groups: dict[str, list[DigestItem]] = {}
    others = []
    for item in leads:
        entry = _digest_item(item, tz, followers.get(item.url, []))
        for match in item.alerts:
            groups.setdefault(match.rule, []).append(_with_match(entry, item, match))
        if not item.alerts:
            others.append(entry)
    order = [r for r in alert_order if r in groups] + sorted(set(groups) - set(alert_order))
    return Digest(
        day=day.isoformat(), timezone=str(tz.key),
        covers=f"{shown_time(inputs.start, tz, zone=False)} to "
               f"{shown_time(inputs.end, tz, zone=False)}",
        generated_at=_local(now, tz).isoformat(timespec="seconds"),
        alert_groups=[AlertGroup(feed_text(r), groups[r]) for r in order],
        other_items=others,
        counts={s: sum(1 for i in items if i.status == s) for s in STATUSES},
        duplicates=_duplicates([i for i in items if i.status == "duplicate"], inputs.originals),
        failing_feeds=[_failing(f, tz) for f in inputs.failing_feeds],
        failing_channels=[_failing_channel(c, tz) for c in inputs.failing_channels])


def _stories(new: list[StoredItem]) -> tuple[list[StoredItem], dict[str, list[StoredItem]]]:
    """Items of the same story are shown once, under the first of that day."""
    urls = {i.url for i in new}
    leads, followers = [], {}
    for item in new:
        if item.story_key and item.story_key in urls:
            followers.setdefault(item.story_key, []).append(item)
        else:
            leads.append(item)
    return leads, followers


def _digest_item(item: StoredItem, tz: ZoneInfo, also: list[StoredItem]) -> DigestItem:
    note = None
    if item.extraction == "entry":
        note = "article page unavailable; text is the feed's summary"
    return DigestItem(title=feed_text(item.title or item.url), url=safe_url(item.url),
                      source=feed_text(item.source),
                      time=shown_time(item.published or item.fetched_at, tz), note=note,
                      snippet=_shown_snippet(snippet(item.text or item.summary, ())),
                      also_reported_by=[_mention(a) for a in also])


def _with_match(entry: DigestItem, item: StoredItem, match: RuleMatch) -> DigestItem:
    """``entry`` under one alert: that rule's keywords, an excerpt around its hits."""
    for field_name in ("text", "summary", "title"):
        hits = [h for h in match.hits if h.field == field_name]
        source = getattr(item, field_name)
        if hits and source:
            excerpt = _shown_snippet(snippet(source, hits, field=field_name))
            break
    else:
        excerpt = entry.snippet
    return replace(entry, keywords=[feed_text(k) for k in match.keywords], snippet=excerpt)


def _duplicates(dups: list[StoredItem], originals: dict[str, tuple[str, str]]) -> list[Duplicate]:
    by_original: dict[str, list[StoredItem]] = {}
    for d in dups:
        by_original.setdefault(d.duplicate_of or "?", []).append(d)
    out = []
    for original, copies in sorted(by_original.items(), key=lambda kv: -len(kv[1])):
        title, source = originals.get(original, (None, None))
        label = f"{title} ({source})" if title else (
            f"seed report {original}" if not original.startswith("http") else original)
        out.append(Duplicate(original=feed_text(label), url=safe_url(original),
                             count=len(copies), copies=[_mention(c) for c in copies]))
    return out


def _mention(item: StoredItem) -> Mention:
    return Mention(title=feed_text(item.title), source=feed_text(item.source),
                   url=safe_url(item.url))


def _failing(f: FeedState, tz: ZoneInfo) -> FailingFeed:
    since = shown_time(f.failing_since, tz) if f.failing_since else ""
    return FailingFeed(name=feed_text(f.name or redact_url(f.url)), url=redact_url(f.url),
                       error=feed_text(redact_text(f.last_error or "")), since=since,
                       failures=f.consecutive_failures)


def _failing_channel(c: ChannelState, tz: ZoneInfo) -> FailingChannel:
    since = shown_time(c.failing_since, tz) if c.failing_since else ""
    return FailingChannel(channel=c.channel, error=feed_text(redact_text(c.last_error or "")),
                          since=since, failures=c.consecutive_failures)


def _shown_snippet(segments: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    return [(feed_text(seg), hit) for seg, hit in segments]


def feed_text(value: str | None) -> str:
    """Text a feed sent, without the bidi controls that reorder what follows it."""
    return (value or "").translate(_BIDI_CONTROLS)


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """``moment`` in ``tz``, or in UTC when ``tz`` cannot hold it: a feed can claim
    year 9999 (past the end of time at UTC+14) or year 1 (before it, west of UTC)."""
    for zone in (tz, timezone.utc):
        try:
            return moment.astimezone(zone)
        except (OverflowError, ValueError):
            continue
    return moment


def shown_time(moment: datetime, tz: ZoneInfo, *, zone: bool = True) -> str:
    """"2024-12-09 07:00 GMT": local time, four-digit year (strftime drops the zeros
    of year 1), the zone's abbreviation unless ``zone`` is False."""
    local = _local(moment, tz)
    text = f"{local.year:04d}-{local:%m-%d %H:%M}"
    return f"{text} {local.tzname() or 'UTC'}" if zone else text


def safe_url(url: str | None) -> str | None:
    """An http(s) URL without credentials, or None: a feed can send javascript:
    or data: links, and those must never become clickable."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    cleaned = redact_url(urlunsplit(parts))
    return quote(cleaned, safe=":/?#[]@!$&'()*+,;=%~-._")

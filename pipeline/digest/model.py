"""The digest model: what one day's briefing says, as plain records.

A digest is organised by **story** (the reports of one event): every stored item of
the window that is new or an update appears exactly once, in its story. A story has a
headline (the best title of its reports), its outlets (each once), the alert rules any
of its reports matched (as tags, in the config's rule order), when it was first seen,
its reports, and the sentences that are new to the reader ("New in this report": in
none of the seed reports, the story's earlier reports, nor the reports of the day that
came first), each naming the report it came from. ``Digest.stories`` holds the stories
in the order shown: those with an alert first (most urgent rule first, then by number of
outlets), then the others (by number of outlets). Copies suppressed and failing feeds
follow, as before. :func:`pipeline.digest.build.build_digest` makes it; every output
(Markdown, HTML, JSON, email, Atom, the reading room) renders it.

Feed text is made safe to show once, here, for every renderer: links are http(s) without
credentials (else None), bidi embedding/override/isolate controls are removed (they can
reorder the text around them; renderers isolate feed text instead, e.g. ``dir="auto"``),
secrets are redacted from feed errors, and a time no zone can show is shown in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pipeline.redact import redact_url

STATUSES = ("new", "update", "duplicate", "off_topic", "failed")

# LRE RLE PDF LRO RLO and LRI RLI FSI PDI: they change the order of the text that follows
# them, so a title could make its source or the next item read backwards. The marks
# LRM/RLM/ALM only affect their neighbours and are legitimate in Arabic text: kept.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


@dataclass(frozen=True)
class Mention:
    """A suppressed copy: who published it and where."""

    title: str
    source: str
    url: str | None


@dataclass(frozen=True)
class Report:
    """One stored item, shown once in the whole digest, in its story."""

    title: str
    url: str | None                 # http(s) only, credentials removed; else None
    source: str
    time: str                       # local time of publication (or of discovery)
    status: str = "new"             # "new", or "update": a near-copy adding sentences
    update_of: str | None = None    # for an update: the title of what it updates (or
    #                                 "seed report <file>", or its URL)
    update_source: str | None = None   # … and that original's outlet, when stored
    keywords: list[str] = field(default_factory=list)    # matched by its alert rules
    snippet: list[tuple[str, bool]] = field(default_factory=list)   # (text, is a hit)
    note: str | None = None         # e.g. "article page unavailable: summary from the feed"
    found_by_rematch: str | None = None   # off topic when first seen (local time shown),
    #                                       kept since a rule edit (pipeline/rematch.py)


@dataclass(frozen=True)
class NewSentence:
    """A sentence new to the reader, from the story's report number ``report``."""

    text: str
    report: int                     # index into ``Story.reports``
    facts: list[str] = field(default_factory=list)       # its new numbers and names


@dataclass(frozen=True)
class Story:
    headline: str
    url: str | None                 # link of the report the headline is taken from
    outlets: list[str]              # each outlet once, in the order they reported it
    first_seen: str                 # local time the story was first found (maybe a past day)
    alerts: list[str]               # rules any report matched, in the config's order
    reports: list[Report]
    new_sentences: list[NewSentence] = field(default_factory=list)
    more_new: int = 0               # new sentences not shown (past the per-report limit)


@dataclass(frozen=True)
class Summary:
    """The line at the top: N new reports in M stories, K alerts, the top headlines."""

    reports: int
    stories: int
    alerts: int                     # stories with at least one alert
    top_headlines: list[str]


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
class FeedToUpdate:
    """A configured feed whose config needs a change: moved, gone or probably dead."""

    name: str
    url: str                        # redacted
    state: str                      # "moved", "gone" or "probably dead"
    moved_to: str                   # redacted; "" unless moved
    notice: str                     # what to do, in words


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
    summary: Summary
    stories: list[Story]            # alert stories first, then the others
    counts: dict[str, int]          # items found in the window, by status
    duplicates: list[Duplicate]     # most copied first
    failing_feeds: list[FailingFeed]
    failing_channels: list[FailingChannel] = field(default_factory=list)
    feeds_to_update: list[FeedToUpdate] = field(default_factory=list)

    @property
    def alert_stories(self) -> list[Story]:
        return [s for s in self.stories if s.alerts]

    @property
    def other_stories(self) -> list[Story]:
        return [s for s in self.stories if not s.alerts]


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


def feed_text(value: str | None) -> str:
    """Text a feed sent, without the bidi controls that reorder what follows it."""
    return (value or "").translate(_BIDI_CONTROLS)


def local_time(moment: datetime, tz: ZoneInfo) -> datetime:
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
    local = local_time(moment, tz)
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

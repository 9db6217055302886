"""Entry links that stand for another: Google News article links turned into the
publisher's URL before anything else looks at an entry.

``cycle.py`` hands each feed's entries to :meth:`Links.resolve` and gets back the
entries to go on with, their links replaced, and whether some wait for a later
cycle. For each Google News link (``/rss/articles/<id>``, ``/articles/<id>``,
``/read/<id>`` on news.google.com or the configured ``google_news.base_url``):

1. an id seen before is answered from ``link_aliases``: no request, and the
   entry then counts as seen like any stored URL (never fetched twice);
2. an old-style id is read offline (``pipeline.feeds.googlenews``): no request;
3. a new-style id costs two requests (article page, then batchexecute), through
   the cycle's :class:`~pipeline.fetch.Fetcher` (its guard and limits), newest
   entries first, at most ``google_news.max_resolutions_per_cycle`` per cycle and
   never more per feed than that feed's download cap (entries past it would wait
   anyway). The rest wait: their feed keeps no validators, so the next poll
   lists them again;
4. an id that failed ``google_news.max_attempts`` cycles gets a stand-in link:
   the publisher's site from the entry's ``<source url>`` with a fragment naming
   the id (one item per entry; :func:`stand_in_reason` tells the page stage not
   to fetch it and the item says why). A Google URL is never an item's link.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

import storage
from pipeline import dedupe
from pipeline.errors import FetchError, HTTPStatusError
from pipeline.feeds import googlenews
from pipeline.fetch import Fetcher
from pipeline.guards import Grace
from pipeline.records import FeedEntry, LinkAlias
from pipeline.redact import redact_url
from pipeline.sections import GoogleNewsConfig

log = logging.getLogger("newswatch.links")
GOOGLE_HOSTS = frozenset({"news.google.com"})
_STAND_IN = "newswatch-gnews-"
STAND_IN_NOTE = ("google news: the link could not be decoded; the publisher's site named "
                 "by the feed stands in, and the text is the feed's summary")


@dataclass
class LinkStats:
    """What resolving links cost in one cycle (printed by bench/googlenews_bench.py)."""

    from_cache: int = 0
    offline: int = 0
    resolved: int = 0        # by request
    failed: int = 0          # requests that gave no URL (tried again next cycle)
    stand_ins: int = 0
    waiting: int = 0         # left for a later cycle (over the budget or failed)
    requests: int = 0

    def line(self) -> str:
        return (f"links: google news ids {self.from_cache} known, {self.offline} read "
                f"offline, {self.resolved} resolved, {self.failed} failed, {self.stand_ins} "
                f"stand-ins, {self.waiting} waiting; {self.requests} requests")


def stand_in_reason(link: str) -> str | None:
    """Why ``link`` is a stand-in (never to be fetched), or None for a real link."""
    fragment = urlsplit(link).fragment
    if not fragment.startswith(_STAND_IN):
        return None
    return STAND_IN_NOTE


def canonical_url(link: str) -> str:
    """The canonical URL of an entry link; a stand-in keeps its fragment, since
    two stand-ins for one publisher's site are two articles."""
    return link if stand_in_reason(link) else dedupe.canonical_url(link)


def stand_in_for(entry: FeedEntry, article: str) -> str:
    """The publisher's site with a fragment naming the id (one item per entry);
    with no ``<source url>``, a URN: shown as text, never as a link."""
    tag = hashlib.sha256(article.encode()).hexdigest()[:16]
    site = entry.source_url or "urn:newswatch:publisher-unknown"
    return f"{site.split('#', 1)[0]}#{_STAND_IN}{tag}"


class Links:
    """Resolves the Google News links of one cycle (one event loop, one Fetcher)."""

    def __init__(self, cfg: GoogleNewsConfig, per_feed_cap: int, store: storage.Store,
                 fetcher: Fetcher, grace: Grace, now: datetime):
        self.cfg, self.cap, self.store = cfg, per_feed_cap, store
        self.fetcher, self.grace, self.now = fetcher, grace, now
        self.budget = cfg.max_resolutions_per_cycle
        self.hosts = GOOGLE_HOSTS | {urlsplit(cfg.base_url).hostname or ""}
        self.stats = LinkStats()
        self.learnt: dict[str, LinkAlias] = {}   # this cycle's, for the feeds polled later

    def article_of(self, link: str) -> str | None:
        """The Google News id ``link`` names, or None when it is no such link."""
        host = (urlsplit(link).hostname or "").lower()
        return googlenews.article_id(link) if host in self.hosts else None

    async def resolve(self, entries: list[FeedEntry]) -> tuple[list[FeedEntry], bool]:
        """``entries`` with Google News links replaced; True when some wait."""
        ids = {e.link: self.article_of(e.link) for e in entries}
        if not any(ids.values()):
            return entries, False
        known = storage.link_aliases(self.store, {googlenews.alias_key(a)
                                                  for a in ids.values() if a})
        known.update(self.learnt)    # two Google feeds often list the same article
        learnt: dict[str, LinkAlias] = {}
        out, asks = [], []
        for e in entries:
            article = ids[e.link]
            if not article:
                out.append(e)
                continue
            got = self._without_request(e, article, known.get(googlenews.alias_key(article)))
            if isinstance(got, LinkAlias):
                learnt[got.alias] = got
                got = got.url
            if got:
                out.append(replace(e, link=got))
            else:
                asks.append((e, article))
        out += await self._asked(asks, known, learnt)
        storage.save_link_aliases(self.store, learnt.values(), self.now)
        self.learnt.update(learnt)
        waiting = len(out) < len(entries)
        self.stats.waiting += len(entries) - len(out)
        return out, waiting

    def _without_request(self, entry: FeedEntry, article: str, known: LinkAlias | None):
        """The URL when it is known (cached), a new LinkAlias when the id reads
        offline, None when it needs a request."""
        if known is not None and known.url:
            self.stats.from_cache += 1
            return known.url
        decoded = googlenews.decode_offline(article)
        if decoded.url:
            self.stats.offline += 1
            return LinkAlias(googlenews.alias_key(article), decoded.url, "resolved")
        return None

    async def _asked(self, asks: list[tuple[FeedEntry, str]], known: dict[str, LinkAlias],
                     learnt: dict[str, LinkAlias]) -> list[FeedEntry]:
        """The entries whose ids requests resolved (or that got their stand-in)."""
        # newest first: when the budget runs out, the oldest wait
        asks.sort(key=lambda ea: ea[0].published.timestamp() if ea[0].published else 0,
                  reverse=True)
        out = []
        # one at a time: Google rate-limits bursts (429), and a cycle has minutes
        for entry, article in asks[:self.cap]:
            key = googlenews.alias_key(article)
            if key in learnt and learnt[key].url:   # the same id under another link form
                out.append(replace(entry, link=learnt[key].url))
                continue
            if self.budget <= 0 or self.grace.stop.is_set():
                break
            self.budget -= 1
            before = known.get(key) or LinkAlias(key, None, "failing")
            alias = await self._requested(entry, article, before)
            if alias is None:          # abandoned at a stop: nothing learnt
                break
            learnt[key] = alias
            if alias.url:
                out.append(replace(entry, link=alias.url))
        return out

    async def _requested(self, entry: FeedEntry, article: str,
                         before: LinkAlias) -> LinkAlias | None:
        """What two requests made of one id; None when a stop abandoned them."""
        try:
            url = await self._batchexecute(article)
        except (FetchError, googlenews.GoogleNewsError) as exc:
            attempts = before.attempts + 1
            self.stats.failed += 1
            if isinstance(exc, HTTPStatusError) and exc.status == 429:
                self.budget = 0        # Google says slow down: no more this cycle
            log.info("links: google news id of %s not resolved (%s), try %d of %d",
                     redact_url(entry.link), exc, attempts, self.cfg.max_attempts)
            if attempts < self.cfg.max_attempts:
                return replace(before, attempts=attempts, last_error=str(exc)[:500])
            self.stats.stand_ins += 1
            return LinkAlias(before.alias, stand_in_for(entry, article), "stand_in",
                             attempts, str(exc)[:500])
        if url is None:
            return None
        self.stats.resolved += 1
        return LinkAlias(before.alias, url, "resolved", before.attempts)

    async def _batchexecute(self, article: str) -> str | None:
        """The publisher's URL of a new-style id: the signature from its article
        page, then the batchexecute POST; None when a stop abandoned it."""
        base = self.cfg.base_url.rstrip("/")
        params = await self._decoding_params(base, article)
        if params is None:
            return None
        sig, ts = params
        batch_url = f"{base}{googlenews.BATCH_PATH}"
        answer = await self._fetch(batch_url, googlenews.batch_form(article, ts, sig))
        return None if answer is None else googlenews.url_from_batch(answer,
                                                                     redact_url(batch_url))

    async def _decoding_params(self, base: str, article: str) -> tuple[str, str] | None:
        # the RSS article page first; its other form when that one has no signature
        # or is not there (Google has served each without the other)
        for n, form in enumerate(googlenews.ARTICLE_PAGES):
            page_url = f"{base}{form.format(id=article)}"
            try:
                page = await self._fetch(page_url)
                return None if page is None else googlenews.decoding_params(
                    page, redact_url(page_url))
            except (googlenews.GoogleNewsError, HTTPStatusError) as exc:
                other_may_help = (isinstance(exc, googlenews.GoogleNewsError)
                                  or exc.status in (404, 410))
                if n == len(googlenews.ARTICLE_PAGES) - 1 or not other_may_help:
                    raise
        return None

    async def _fetch(self, url: str, form: bytes | None = None) -> bytes | None:
        self.stats.requests += 1
        # trusted: the base URL is the user's config (a test server, a mirror)
        res = await self.grace.within(self.fetcher.fetch(url, trusted=True, form=form))
        return None if res is None else res.body

    def also_carried(self, entries: list[FeedEntry], known: set[str] | dict[str, str],
                     ) -> list[tuple[str, str, str]]:
        """(URL, feed URL, feed name) for those of ``entries`` whose URL is already
        ``known`` (stored or pending) as another feed's: one item, two sources."""
        links = [e.link for e in entries if e.link in known]
        if not links:
            return []
        feed_url, feed_name = entries[0].feed_url, entries[0].feed_name
        other = storage.carried_by_other_feeds(self.store, feed_url, links)
        return [(link, feed_url, feed_name) for link in links if link in other]

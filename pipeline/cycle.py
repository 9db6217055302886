"""One poll cycle, the recipe: the only place where the stages meet.

    feeds due  ->  fetch feed (conditional GET)  ->  parse entries
      -> drop entry URLs already seen or pending (before any download)
      -> newest first, up to the per-feed cap (the rest wait: storage.pending)
      -> fetch article (a 503, 429 or timeout waits for a retry) -> extract (workers)
      -> dedupe (canonical URL, near-duplicate text vs seeds and stored items)
      -> topic -> alerts -> story -> store (one transaction per feed)

``newswatch once`` and the scheduler's tick both call :func:`run_cycle`.
Nothing but a stop request ends a cycle early: whatever goes wrong with one
feed (a bug included) is recorded as that feed's failure, and the rest goes on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable

import storage
from pipeline import dedupe, feeds, feedstate, history, leases, novelty, pending
from pipeline.archive import Archive
from pipeline.config import FeedSpec, Settings
from pipeline.errors import FeedError, FetchError, StorageError
from pipeline.extract import ExtractionPool
from pipeline.fetch import Fetcher
from pipeline.guards import STOP_GRACE, Grace, as_stage_error, discovery_time
from pipeline.links import Links, canonical_url
from pipeline.pages import Pages
from pipeline.pending import FeedBatch, Retry
from pipeline.records import (CycleSummary, FeedEntry, FeedState, FetchResult, ItemOutcome,
                              PendingArticle)
from pipeline.redact import redact_url
from pipeline.verdict import PageVerdict, item_title

log = logging.getLogger("newswatch.cycle")
Progress = Callable[[CycleSummary], None]
WORKER_PRELOAD = ("pipeline.worker",)   # imported and warmed once, in the forkserver
__all__ = ["STOP_GRACE", "Pipeline", "idle_tick", "open_pipeline", "run_cycle"]


@dataclass
class Pipeline:
    """What a process keeps between cycles: settings, database, archive, workers."""

    settings: Settings
    store: storage.Store
    archive: Archive
    pool: ExtractionPool

    def close(self) -> None:
        self.pool.close()

    def reconfigure(self, settings: Settings) -> "Pipeline":
        """Apply a new config from the next cycle on; the archive is reloaded
        only when what it depends on changed."""
        if settings.database_url != self.settings.database_url:
            self.close()
            return open_pipeline(settings, storage.open_store(settings.database_url))
        if settings.dedupe != self.settings.dedupe or settings.seeds_dir != self.settings.seeds_dir:
            self.archive = Archive(settings, self.store)
        if settings.extract != self.settings.extract:
            self.pool.close()
            self.pool = ExtractionPool(settings.extract, WORKER_PRELOAD)
        self.settings = settings
        return self


def open_pipeline(settings: Settings, store: storage.Store) -> Pipeline:
    return Pipeline(settings=settings, store=store, archive=Archive(settings, store),
                    pool=ExtractionPool(settings.extract, WORKER_PRELOAD))


def idle_tick(pipeline: Pipeline, now: datetime, last_cycle: datetime | None) -> bool:
    """True when a scheduler tick has nothing to do (see feedstate.idle_tick):
    two SELECTs, nothing written."""
    if not pipeline.settings.network.poll_adaptive:
        return False
    states, first_pending = storage.poll_schedule(pipeline.store)
    return feedstate.idle_tick(pipeline.settings, states, first_pending, last_cycle, now)


def run_cycle(pipeline: Pipeline, *, stop: threading.Event | None = None,
              progress: Progress | None = None, now: datetime | None = None) -> CycleSummary:
    """Poll every due feed once and store what is new. Never raises for a bad
    feed or page: failures are recorded on their feed or item and counted."""
    cycle = _Cycle(pipeline, stop or threading.Event(), progress, now)
    try:
        summary = asyncio.run(cycle.run())
    finally:
        # the workers hold hundreds of MB once they have parsed pages (lxml keeps
        # what it allocated); between cycles, minutes apart, the service needs none
        pipeline.pool.close()
    storage.record_cycle(pipeline.store, summary.started_at, summary.finished_at, summary.line())
    return summary


class _Cycle:
    def __init__(self, pipeline: Pipeline, stop: threading.Event, progress: Progress | None,
                 now: datetime | None):
        self.p = pipeline
        self.cfg = pipeline.settings
        self.stop = stop
        self.progress = progress or (lambda s: None)
        self.now = discovery_time(now or datetime.now(timezone.utc),
                                  storage.discovery_floor(pipeline.store))
        self.summary = CycleSummary(started_at=self.now)
        self.claimed: dict[str, str] = {}   # canonical URL -> entry URL, this cycle
        self.links: Links | None = None     # Google News links, once the fetcher is open

    async def run(self) -> CycleSummary:
        began = time.monotonic()
        states = feedstate.adopt_moved(self.cfg.feeds, storage.feed_states(self.p.store))
        queued = storage.due_pending_articles(self.p.store, self.now,
                                              self.cfg.network.max_new_articles_per_feed)
        due, self.summary.feeds_skipped = feedstate.due_feeds(
            self.cfg.feeds, states, self.now, self.cfg)
        # several replicas on PostgreSQL: only the feeds this one could lease
        due, queued = leases.claim_due(self.p.store, self.cfg, due, queued, self.now)
        leased = [f.url for f, _ in due] + list(queued)
        due = [(feed, state, queued.pop(feed.url, [])) for feed, state in due]
        self.grace = Grace(self.stop)
        self.unchanged: list[FeedState] = []    # feeds that answered 304
        watcher = asyncio.create_task(self.grace.watch())
        try:
            async with Fetcher(self.cfg.network) as fetcher:
                self.fetcher = fetcher
                self.pages = Pages(self.cfg, self.p.pool, fetcher, self.grace, self.summary)
                self.links = Links(self.cfg.google_news,
                                   self.cfg.network.max_new_articles_per_feed,
                                   self.p.store, fetcher, self.grace, self.now)
                # the pages still pending of feeds not polled now (in backoff, or
                # gone from the config) are fetched all the same
                await asyncio.gather(*(self.poll_feed(f, s, q) for f, s, q in due),
                                     *(self.pending_only(q) for q in queued.values()))
        finally:
            watcher.cancel()
            storage.save_feed_states(self.p.store, self.unchanged)
            leases.release(self.p.store, leased)
        if self.links and self.links.stats.requests + self.links.stats.offline:
            log.info("%s", self.links.stats.line())
        # measured on the monotonic clock: a clock step mid-cycle changes no duration
        self.summary.finished_at = self.now + timedelta(seconds=time.monotonic() - began)
        return self.summary

    async def poll_feed(self, feed: FeedSpec, state: FeedState,
                        queued: list[PendingArticle] = ()) -> None:
        """One feed, whatever happens: anything that goes wrong (a bug
        included) is this feed's failure, recorded and counted."""
        if self.stop.is_set():
            return
        self.summary.feeds_polled += 1
        try:
            await self._poll(feed, state, list(queued))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  the catch-all: see the docstring
            self._failed(feed, state, as_stage_error(exc, feed.url))

    async def _poll(self, feed: FeedSpec, state: FeedState,
                    queued: list[PendingArticle]) -> None:
        try:
            res = await self.grace.within(self.fetcher.fetch(
                # a URL a redirect gave is checked like any from outside
                feedstate.poll_url(feed, state), trusted=not state.moved_to,
                etag=state.etag, last_modified=state.last_modified, accept=feeds.ACCEPT))
            if res is None:          # abandoned at shutdown: the next cycle polls it
                return
            if res.permanent_redirect and res.permanent_redirect != state.moved_to:
                log.warning("feeds: %s moved permanently to %s: update the config",
                            redact_url(feed.url), redact_url(res.permanent_redirect))
            state = feedstate.after_redirect(feed, state, res.permanent_redirect)
            listed = await self._entries_of(feed, state, res)
            if listed is None:       # abandoned at shutdown
                return
            entries, validators = listed
        except (FetchError, FeedError) as exc:
            self._failed(feed, state, exc)
            await self.pending_only(queued)   # the pages do not depend on the feed
            return
        if res.not_modified:
            self.summary.feeds_not_modified += 1
            if not queued:
                # saved with the other 304s at the end of the cycle, in one transaction
                self.unchanged.append(self._succeeded(feed, state, res, entries, validators))
                return
        entries, waiting = await self.links.resolve(entries)   # Google News links
        if waiting:      # no validators kept: the next poll lists the waiting ones again
            validators = (None, None)
        batch = await self.entries(entries, queued)
        new_state = (self._succeeded(feed, state, res, entries, validators) if batch.complete
                     else state)
        self._save(new_state, batch)

    async def _entries_of(self, feed: FeedSpec, state: FeedState, res: FetchResult
                          ) -> tuple[list[FeedEntry], tuple] | None:
        """The feed's entries and validators; None when abandoned at shutdown."""
        if res.not_modified:
            return [], (state.etag, state.last_modified)
        parsed = await self._parse(feed, res)
        validators = (res.etag, res.last_modified)
        if parsed.discovered and not parsed.entries:
            parsed, validators = await self._discovered(feed, parsed.discovered[0])
            if parsed is None:
                return None
        for reason in parsed.skipped:
            log.info("feeds: skipped %s in %s", reason, redact_url(feed.url))
        for note in parsed.notes:     # a lying charset read right: worth a look, not a failure
            log.warning("feeds: %s in %s", note, redact_url(feed.url))
        return parsed.entries, validators

    async def _parse(self, feed: FeedSpec, res: FetchResult) -> feeds.ParsedFeed:
        # in a thread: a feed of 20,000 entries is seconds of CPU, and the event
        # loop must keep downloading (and keep other requests within their deadline)
        limits = self.cfg.limits
        return await asyncio.to_thread(feeds.parse_feed, res.body, feed_name=feed.name,
                                       feed_url=feed.url, content_type=res.content_type,
                                       charset=res.charset, now=self.now,
                                       max_title_chars=limits.max_title_chars,
                                       max_summary_chars=limits.max_summary_chars)

    async def _discovered(self, feed: FeedSpec, link: str):
        # an HTML page where the feed was: follow the feed link it advertises
        # (untrusted, so checked like any URL from outside); no validators kept
        log.info("feeds: %s is an HTML page; using its feed link %s", redact_url(feed.url),
                 redact_url(link))
        res = await self.grace.within(self.fetcher.fetch(link, trusted=False,
                                                         accept=feeds.ACCEPT))
        if res is None:
            return None, (None, None)
        parsed = await self._parse(feed, res)
        if not parsed.entries and parsed.discovered:
            raise FeedError(f"the feed link {redact_url(link)} is another HTML page",
                            url=redact_url(feed.url))
        return parsed, (None, None)

    async def pending_only(self, queued: list[PendingArticle]) -> None:
        """Pages still pending whose feed is not read now (its poll failed, it is
        in backoff or no longer configured)."""
        if not queued or self.stop.is_set():
            return
        try:
            self._save(None, await self.entries([], queued))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  they stay pending for the next cycle
            error = as_stage_error(exc, queued[0].entry.feed_url)
            log.warning("%s (its pending pages are tried again next cycle)", error)

    async def entries(self, entries: list[FeedEntry],
                      queued: list[PendingArticle] = ()) -> FeedBatch:
        """Decide the entries not seen before, and the pending ones now due,
        newest first up to the per-feed cap; the rest wait for later cycles."""
        entries = list({e.link: e for e in entries}.values())
        self.summary.entries_seen += len(entries)
        # a thread: canonical URLs of 20,000 links are seconds of CPU
        canon = await asyncio.to_thread(lambda: {e.link: canonical_url(e.link)
                                                 for e in entries})
        urls = [*canon, *canon.values()]
        # pending first, then seen: an entry decided in between is in one or the other
        waiting = storage.pending_entry_urls(self.p.store, urls)
        seen = storage.seen_urls(self.p.store, urls)
        fresh = [e for e in entries if e.link not in seen and e.link not in waiting]
        batch = FeedBatch()
        batch.sources += self.links.also_carried(entries, {**waiting, **dict.fromkeys(seen)})
        candidates = self._claimed(fresh, canon, waiting, batch)
        for p in queued:
            self.claimed.setdefault(p.canonical_url, p.entry.link)
        to_fetch, later = pending.within_cap(candidates, list(queued),
                                             self.cfg.network.max_new_articles_per_feed)
        batch.pending += later
        self.summary.deferred += len(later)
        if to_fetch:
            self.p.pool.start_soon()    # workers ready by the time the first page arrives
        pages = await asyncio.gather(*(self.pages.judged(p) for p in to_fetch))
        queued_links = {p.entry.link for p in queued}
        for p, page in zip(to_fetch, pages):
            self._decided(p, page, batch, was_pending=p.entry.link in queued_links)
        return batch

    def _claimed(self, fresh: list[FeedEntry], canon: dict[str, str], waiting: dict[str, str],
                 batch: FeedBatch) -> list[PendingArticle]:
        """The entries whose page this cycle fetches (claimed, for all feeds); a
        copy of a URL already stored or claimed is a duplicate, and its feed one
        more source of the original (the same URL twice is one item)."""
        known = storage.original_for_canonical(self.p.store, [canon[e.link] for e in fresh])
        candidates = []
        for e in fresh:
            original = (known.get(canon[e.link]) or self.claimed.get(canon[e.link])
                        or waiting.get(canon[e.link]))
            if original:
                batch.sources.append((original, e.feed_url, e.feed_name))
                if original != e.link:      # the same URL is no second row
                    batch.outcomes.append(self._outcome(e, canon[e.link], "duplicate",
                                                        duplicate_of=original))
            else:
                self.claimed[canon[e.link]] = e.link
                candidates.append(PendingArticle(e, canon[e.link], 0, self.now))
        return candidates

    def _decided(self, p: PendingArticle, page, batch: FeedBatch, was_pending: bool) -> None:
        if page is None:          # stopped before it finished: a later cycle does it
            # (a pending page stays pending; a fresh one keeps the feed's validators
            # back, so that the next poll lists it again)
            batch.complete = batch.complete and was_pending
            self.claimed.pop(p.canonical_url, None)
            return
        if isinstance(page, Retry):
            attempts = p.attempts + 1
            batch.pending.append(replace(p, attempts=attempts, last_error=str(page.error),
                                         next_attempt_at=pending.retry_at(
                                             self.now, attempts, page.error, self.cfg.network)))
            self.summary.to_retry += 1
            return
        batch.outcomes.append(self.decide(p.entry, p.canonical_url, page))
        if was_pending:
            batch.done.append(p.entry.link)

    def decide(self, entry: FeedEntry, canonical: str, verdict: PageVerdict) -> ItemOutcome:
        """Duplicate, off topic or new: only consults and updates the indexes.
        Runs in the event loop's thread, one at a time, so the indexes see every
        earlier decision of this cycle."""
        art = verdict.article
        if art is None:                        # refused link: nothing to judge
            return self._outcome(entry, canonical, "failed", error=str(verdict.error))
        fp = dedupe.Fingerprint.from_bytes(verdict.fingerprint) if verdict.fingerprint else None
        match = self.p.archive.duplicates.find_duplicate(fp) if fp is not None else None
        update_of = None
        if match is not None:
            b = self.cfg.briefing      # a near-copy adding enough new sentences is an update
            if novelty.update_sentences(art.text, self.p.archive.original_texts(match.key),
                                        min_new_sentences=b.update_min_new_sentences,
                                        min_new_share=b.update_min_new_share) is None:
                return self._outcome(entry, canonical, "duplicate", article=art,
                                     title=verdict.title, duplicate_of=match.key)
            update_of = match.key
        if verdict.topic is None:
            return self._outcome(entry, canonical, "off_topic", title=verdict.title,
                                 article=replace(art, text=""), retained=history.retained_of(
                                     verdict, self.cfg.history.keep.total_seconds() > 0))
        published = entry.published or self.now
        stories = self.p.archive.stories
        story = stories.find_story(verdict.title, fp, published)
        stories.add(entry.link, verdict.title, fp, published, story=story or entry.link)
        if fp is not None:
            self.p.archive.duplicates.add(entry.link, fp)
        if update_of:
            self.p.archive.remember_update(update_of, art.text)
        return self._outcome(entry, canonical, "update" if update_of else "new", article=art,
                             title=verdict.title, duplicate_of=update_of,
                             fingerprint=verdict.fingerprint, story_key=story,
                             alerts=list(verdict.alerts), error=art.fallback_reason)

    def _outcome(self, entry: FeedEntry, canonical: str, status: str, **kw) -> ItemOutcome:
        counter = {"new": "new", "duplicate": "duplicates", "off_topic": "off_topic",
                   "failed": "failed", "update": "updates"}[status]
        setattr(self.summary, counter, getattr(self.summary, counter) + 1)
        self.summary.alerts += len(kw.get("alerts") or ())
        self.progress(self.summary)
        kw.setdefault("title", item_title(None, entry.title))   # no page judged
        return ItemOutcome(entry=entry, canonical_url=canonical, status=status,
                           fetched_at=self.now, **kw)

    def _succeeded(self, feed: FeedSpec, state: FeedState, res: FetchResult,
                   entries: list[FeedEntry], validators: tuple) -> FeedState:
        dates = None if res.not_modified else [e.published for e in entries]
        return feedstate.after_success(feed, state, self.now, self.cfg, etag=validators[0],
                                       last_modified=validators[1], dates=dates,
                                       fresh_for=res.fresh_for)

    def _failed(self, feed: FeedSpec, state: FeedState, exc: Exception) -> None:
        self.summary.feeds_failed += 1
        self.summary.errors.append(str(exc))
        new_state = feedstate.after_missing(
            feedstate.after_failure(feed, state, self.now, exc, self.cfg),
            self.now, exc, self.cfg.network)
        log.warning("%s (feed %s, failure %d)", exc, feed.name, new_state.consecutive_failures)
        try:
            self._save(new_state)
        except StorageError as err:   # counted and logged all the same; the cycle goes on
            log.error("%s (the failure of feed %s could not be recorded)", err, feed.name)
        self.progress(self.summary)

    def _save(self, state: FeedState | None, batch: FeedBatch | None = None) -> None:
        batch = batch or FeedBatch()
        if state is not None and not batch.pending and not batch.done:
            storage.save_feed_batch(self.p.store, state, batch.outcomes, batch.sources)
        else:
            storage.save_feed_batch_with_pending(self.p.store, state, batch.outcomes,
                                                 batch.pending, batch.done, batch.sources)


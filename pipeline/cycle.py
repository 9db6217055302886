"""One poll cycle, the recipe: the only place where the stages meet.

    feeds due  ->  fetch feed (conditional GET)  ->  parse entries
      -> drop entry URLs already seen (before any download)
      -> fetch article -> extract (worker processes)
      -> dedupe (canonical URL, near-duplicate text vs seeds and stored items)
      -> topic -> alerts -> story -> store (one transaction per feed)

``newswatch once`` and the scheduler's tick both call :func:`run_cycle`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

import storage
from pipeline import dedupe, feeds, novelty
from pipeline.config import FeedSpec, Settings
from pipeline.errors import ExtractError, FeedError, FetchError, HTTPStatusError, RefusedURL
from pipeline.extract import ExtractionPool, fallback_article
from pipeline.fetch import Fetcher
from pipeline.records import CycleSummary, FeedEntry, FeedState, ItemOutcome
from pipeline.redact import redact_url
from pipeline.verdict import PageVerdict, RuleSet, item_title, judge_html, judge_page

log = logging.getLogger("newswatch.cycle")
Progress = Callable[[CycleSummary], None]
_HTML_TYPES = ("", "text/html", "application/xhtml+xml", "text/plain")
STOP_GRACE = 4.0   # seconds the items in flight get to finish after a stop request
WORKER_PRELOAD = ("pipeline.worker",)   # imported and warmed once, in the forkserver
T = TypeVar("T")


class Archive:
    """What the pipeline remembers of everything before: the seeds and every
    stored item in the duplicate and story indexes. Loaded at the first
    decision, not at start-up, so a quiet cycle (nothing new) never pays for
    it however large the archive has grown."""

    def __init__(self, settings: Settings, store: storage.Store):
        self.cfg, self.seeds_dir, self.store = settings.dedupe, settings.seeds_dir, store
        self._indexes: tuple[dedupe.DuplicateIndex, dedupe.StoryIndex] | None = None
        self.seed_texts: dict[str, str] = {}
        self._updates: dict[str, list[str]] = {}   # original -> updates decided, not yet read back

    @property
    def duplicates(self) -> dedupe.DuplicateIndex:
        return self.load()[0]

    @property
    def stories(self) -> dedupe.StoryIndex:
        return self.load()[1]

    def load(self) -> tuple[dedupe.DuplicateIndex, dedupe.StoryIndex]:
        if self._indexes is None:
            duplicates, stories = dedupe.DuplicateIndex(self.cfg), dedupe.StoryIndex(self.cfg)
            for seed in dedupe.load_seeds(self.seeds_dir):
                self.seed_texts[seed.name] = seed.text
                fp = dedupe.fingerprint(seed.text, self.cfg)
                if fp is not None:
                    duplicates.add(seed.name, fp)
            for url, fp_bytes, title, published, story in storage.fingerprints(self.store):
                fp = dedupe.Fingerprint.from_bytes(fp_bytes) if fp_bytes else None
                if fp is not None:
                    duplicates.add(url, fp)
                stories.add(url, title, fp, published, story=story or url)
            duplicates.compact()
            self._indexes = (duplicates, stories)
        return self._indexes

    def original_texts(self, key: str) -> list[str]:
        """What a near-copy of ``key`` is compared with: the original (a seed or a stored
        item) and the updates of it already decided, so a copy of an update is a copy."""
        seed = [self.seed_texts[key]] if key in self.seed_texts else []
        return seed + storage.original_texts(self.store, key) + self._updates.get(key, [])

    def remember_update(self, key: str, text: str) -> None:
        self._updates.setdefault(key, []).append(text)


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
        self.now = now or datetime.now(timezone.utc)
        self.summary = CycleSummary(started_at=self.now)
        self.claimed: dict[str, str] = {}   # canonical URL -> entry URL, this cycle
        self._rules: RuleSet | None = None  # pickled once, at the first page

    async def run(self) -> CycleSummary:
        states = storage.feed_states(self.p.store)
        due = []
        for feed in self.cfg.feeds:
            state = states.get(feed.url) or FeedState(url=feed.url, name=feed.name)
            if state.next_poll_at and state.next_poll_at > self.now:
                self.summary.feeds_skipped += 1
            else:
                due.append((feed, state))
        self.abandon = asyncio.Event()
        self.unchanged: list[FeedState] = []    # feeds that answered 304
        watcher = asyncio.create_task(self._watch_stop())
        try:
            async with Fetcher(self.cfg.network) as fetcher:
                self.fetcher = fetcher
                await asyncio.gather(*(self.poll_feed(f, s) for f, s in due))
        finally:
            watcher.cancel()
            storage.save_feed_states(self.p.store, self.unchanged)
        self.summary.finished_at = datetime.now(timezone.utc)
        return self.summary

    async def _watch_stop(self) -> None:
        """After a stop request, give the items in flight STOP_GRACE seconds to
        finish, then abandon the rest (a hung server must not hold a shutdown
        for a whole request deadline); abandoned work is simply redone by the
        next cycle, since nothing of it was committed."""
        while not self.stop.is_set():
            await asyncio.sleep(0.1)
        await asyncio.sleep(STOP_GRACE)
        self.abandon.set()

    async def _unless_abandoned(self, work: Awaitable[T]) -> T | None:
        task = asyncio.ensure_future(work)
        quit_ = asyncio.ensure_future(self.abandon.wait())
        done, _ = await asyncio.wait({task, quit_}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            quit_.cancel()
            return task.result()
        task.cancel()
        return None

    async def poll_feed(self, feed: FeedSpec, state: FeedState) -> None:
        if self.stop.is_set():
            return
        self.summary.feeds_polled += 1
        try:
            res = await self._unless_abandoned(self.fetcher.fetch(
                feed.url, trusted=True, etag=state.etag, last_modified=state.last_modified,
                accept=feeds.ACCEPT))
            if res is None:          # abandoned at shutdown: the next cycle polls it
                return
            if res.not_modified:
                self.summary.feeds_not_modified += 1
                # saved with the other 304s at the end of the cycle, in one transaction
                self.unchanged.append(self._succeeded(feed, state, state.etag,
                                                      state.last_modified))
                return
            parsed = feeds.parse_feed(res.body, feed_name=feed.name, feed_url=feed.url,
                                      content_type=res.content_type, charset=res.charset)
            validators = (res.etag, res.last_modified)
            if parsed.discovered and not parsed.entries:
                parsed, validators = await self._discovered(feed, parsed.discovered[0])
        except (FetchError, FeedError) as exc:
            self._failed(feed, state, exc)
            return
        for reason in parsed.skipped:
            log.info("feeds: skipped %s in %s", reason, redact_url(feed.url))
        outcomes, complete = await self.entries(parsed.entries)
        new_state = self._succeeded(feed, state, *validators) if complete else state
        self._save(feed, new_state, outcomes)

    async def _discovered(self, feed: FeedSpec, link: str):
        # an HTML page where the feed was: follow the feed link it advertises
        # (untrusted, so checked like any URL from outside); no validators kept
        log.info("feeds: %s is an HTML page; using its feed link %s", redact_url(feed.url),
                 redact_url(link))
        res = await self.fetcher.fetch(link, trusted=False, accept=feeds.ACCEPT)
        parsed = feeds.parse_feed(res.body, feed_name=feed.name, feed_url=feed.url,
                                  content_type=res.content_type, charset=res.charset)
        if not parsed.entries and parsed.discovered:
            raise FeedError(f"the feed link {redact_url(link)} is another HTML page",
                            url=redact_url(feed.url))
        return parsed, (None, None)

    async def entries(self, entries: list[FeedEntry]) -> tuple[list[ItemOutcome], bool]:
        """Decide every entry not seen before; False when a stop cut it short."""
        entries = list({e.link: e for e in entries}.values())
        self.summary.entries_seen += len(entries)
        canon = {e.link: dedupe.canonical_url(e.link) for e in entries}
        seen = storage.seen_urls(self.p.store, [*canon, *canon.values()])
        fresh = [e for e in entries if e.link not in seen]
        known = storage.original_for_canonical(self.p.store,
                                               [canon[e.link] for e in fresh])
        outcomes, to_fetch = [], []
        for e in fresh:
            original = known.get(canon[e.link]) or self.claimed.get(canon[e.link])
            if original:
                outcomes.append(self._outcome(e, canon[e.link], "duplicate",
                                              duplicate_of=original))
            else:
                self.claimed[canon[e.link]] = e.link
                to_fetch.append(e)
        if to_fetch:
            self.p.pool.start_soon()    # workers ready by the time the first page arrives
        pages = await asyncio.gather(*(self.article(e) for e in to_fetch))
        complete = True
        for entry, page in zip(to_fetch, pages):
            if page is None:          # stopped before it started: next cycle does it
                complete = False
                self.claimed.pop(canon[entry.link], None)
                continue
            outcomes.append(self.decide(entry, canon[entry.link], page))
        return outcomes, complete

    async def article(self, entry: FeedEntry) -> PageVerdict | None:
        """The entry's page, fetched, extracted and judged; None when a stop came
        first (or abandoned it), so that the next cycle does it."""
        if self.stop.is_set():
            return None
        return await self._unless_abandoned(self._judge_article(entry))

    async def _judge_article(self, entry: FeedEntry) -> PageVerdict:
        try:
            res = await self.fetcher.fetch(entry.link, trusted=False)
        except RefusedURL as exc:
            return PageVerdict(article=None, error=exc)
        except FetchError as exc:
            return self._judge_entry(entry, str(exc))
        self.summary.articles_fetched += 1
        if res.content_type not in _HTML_TYPES:
            reason = f"extract: not an HTML page ({res.content_type}) ({redact_url(res.final_url)})"
            return self._judge_entry(entry, reason)
        try:
            # judged in a worker: the event loop's process keeps its CPU for fetching
            verdict = await self.p.pool.run(judge_html, res.body, res.final_url,
                                            self.cfg.extract, self.cfg.dedupe, self._ruleset(),
                                            entry.title, entry.summary)
        except ExtractError as exc:
            return self._judge_entry(entry, str(exc))
        if verdict.article is None:
            return self._judge_entry(entry, str(verdict.error or "extract: no text"))
        return verdict

    def _judge_entry(self, entry: FeedEntry, reason: str) -> PageVerdict:
        """The page gave nothing: the feed's own title and summary stand in."""
        return judge_page(fallback_article(entry, reason), entry.title, entry.summary,
                          self._ruleset(), self.cfg.dedupe)

    def _ruleset(self) -> RuleSet:
        if self._rules is None:
            self._rules = RuleSet.of(self.cfg.topic, self.cfg.alerts)
        return self._rules

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
                                 article=replace(art, text=""))
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

    def _succeeded(self, feed: FeedSpec, state: FeedState, etag, last_modified) -> FeedState:
        return replace(state, name=feed.name, etag=etag, last_modified=last_modified,
                       consecutive_failures=0, last_error=None, failing_since=None,
                       last_success_at=self.now, next_poll_at=None)

    def _failed(self, feed: FeedSpec, state: FeedState, exc: Exception) -> None:
        self.summary.feeds_failed += 1
        self.summary.errors.append(str(exc))
        failures = state.consecutive_failures + 1
        log.warning("%s (feed %s, failure %d)", exc, feed.name, failures)
        self._save(feed, replace(state, name=feed.name, consecutive_failures=failures,
                                 last_error=str(exc)[:500],
                                 failing_since=state.failing_since or self.now,
                                 next_poll_at=self._next_poll(failures, exc)))
        self.progress(self.summary)

    def _next_poll(self, failures: int, exc: Exception) -> datetime | None:
        """Exponential backoff: a dead feed is polled less and less (up to
        backoff_max); the first failure just waits for the next cycle. A
        server's Retry-After is honoured."""
        net = self.cfg.network
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        if failures == 1 and not retry_after:
            return None
        wait = min(net.backoff_base * 2 ** (failures - 2), net.backoff_max)
        if retry_after:
            wait = max(wait, min(retry_after, net.backoff_max))
        return self.now + timedelta(seconds=wait)

    def _save(self, feed: FeedSpec, state: FeedState, outcomes: list[ItemOutcome] = ()) -> None:
        storage.save_feed_batch(self.p.store, state, list(outcomes))

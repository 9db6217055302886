"""The page half of a cycle: one entry's page fetched, extracted and judged.

``cycle.py`` hands each entry it fetches to :meth:`Pages.judged` and gets back
one of three answers: a :class:`~pipeline.verdict.PageVerdict` (from the page,
judged in an extraction worker, or from the feed's own title and summary when
the page gave nothing); a :class:`~pipeline.pending.Retry` when the page failed
in a way that may pass; None when a stop request came first. Together with
``verdict.py`` (what runs in the worker) this is the per-page part of the
recipe; ``cycle.py`` keeps everything that spans entries (indexes, storing).
"""

from __future__ import annotations

import asyncio
import logging

from pipeline import pending
from pipeline.config import Settings
from pipeline.errors import ExtractError, FetchError, RefusedURL
from pipeline.extract import ExtractionPool, fallback_article
from pipeline.fetch import Fetcher
from pipeline.guards import WORKER_START_GRACE, Grace, as_stage_error
from pipeline.links import stand_in_reason
from pipeline.pending import Retry
from pipeline.records import CycleSummary, FeedEntry, PendingArticle
from pipeline.redact import redact_url
from pipeline.verdict import PageVerdict, RuleSet, judge_html, judge_page

log = logging.getLogger("newswatch.cycle")
_HTML_TYPES = ("", "text/html", "application/xhtml+xml", "text/plain")
Answer = PageVerdict | Retry | None


class Pages:
    """Judges the pages of one cycle (one event loop, one Fetcher)."""

    def __init__(self, settings: Settings, pool: ExtractionPool, fetcher: Fetcher,
                 grace: Grace, summary: CycleSummary):
        self.cfg, self.pool, self.fetcher = settings, pool, fetcher
        self.grace, self.summary = grace, summary
        self._rules: RuleSet | None = None  # pickled once, at the first page

    async def judged(self, waiting: PendingArticle) -> Answer:
        """The entry's page judged; a Retry when it failed for now; None when a
        stop came first (or abandoned it), so that a later cycle does it. One
        page's unexpected error is that page's alone: a verdict with the error."""
        if self.grace.stop.is_set():
            return None
        try:
            return await self._from_page(waiting)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  a bug: recorded on the item
            error = as_stage_error(exc, waiting.entry.link, ExtractError)
            return PageVerdict(article=None, error=error)

    async def _from_page(self, waiting: PendingArticle) -> Answer:
        entry = waiting.entry
        stand_in = stand_in_reason(entry.link)
        if stand_in:          # no page of its own to fetch (pipeline.links)
            return await self.from_summary(entry, stand_in)
        try:
            res = await self.grace.within(self.fetcher.fetch(entry.link, trusted=False))
        except RefusedURL as exc:
            return PageVerdict(article=None, error=exc)
        except FetchError as exc:
            if pending.may_retry(exc, waiting, self.cfg.network):
                return Retry(exc)
            return await self.from_summary(entry, pending.gave_up(exc, waiting))
        if res is None:
            return None
        self.summary.articles_fetched += 1
        if res.content_type not in _HTML_TYPES:
            reason = f"extract: not an HTML page ({res.content_type}) ({redact_url(res.final_url)})"
            return await self.from_summary(entry, reason)
        # the workers' cold start is not the page's slowness: its grace after a
        # stop counts from when the workers could take it
        if not await self.grace.within(self._workers_ready(), grace=WORKER_START_GRACE):
            return None
        try:
            # judged in a worker: the event loop's process keeps its CPU for fetching
            verdict = await self.grace.within(
                self.pool.run(judge_html, res.body, res.final_url, self.cfg.extract,
                              self.cfg.dedupe, self.ruleset(), entry.title, entry.summary),
                since=asyncio.get_running_loop().time())
        except ExtractError as exc:
            return await self.from_summary(entry, str(exc))
        if verdict is None:
            return None
        if verdict.article is None:
            return await self.from_summary(entry, str(verdict.error or "extract: no text"))
        return verdict

    async def _workers_ready(self) -> bool:
        await self.pool.ready()
        return True

    async def from_summary(self, entry: FeedEntry, reason: str) -> PageVerdict:
        """The page gave nothing: the feed's own title and summary stand in
        (judged in a thread: a summary can be a whole article)."""
        return await asyncio.to_thread(judge_page, fallback_article(entry, reason), entry.title,
                                       entry.summary, self.ruleset(), self.cfg.dedupe)

    def ruleset(self) -> RuleSet:
        if self._rules is None:
            self._rules = RuleSet.of(self.cfg.topic, self.cfg.alerts,
                                     self.cfg.limits.max_matches_per_rule)
            self._rules.rules()     # unpickled here once: judging threads only read it
        return self._rules

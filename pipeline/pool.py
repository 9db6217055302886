"""Extraction in worker processes: trafilatura is CPU-bound and the fetches are
not, so pages are extracted in a process pool sized to the cores while the
event loop keeps downloading.

Workers are recycled after ``max_tasks_per_child`` pages because long-running
extraction leaks memory through lxml (a known trafilatura issue), and the pool
is only started when there is a page to extract, so a quiet cycle never pays
for it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from pipeline.config import DedupeConfig, ExtractConfig
from pipeline.records import Article


@dataclass(frozen=True)
class ExtractedPage:
    article: Article | None
    fingerprint: bytes | None = None
    error: str | None = None


def extract_page(html: bytes, url: str, extract_cfg: ExtractConfig,
                 dedupe_cfg: DedupeConfig) -> ExtractedPage:
    """Extraction and fingerprinting of one page, both CPU work for a worker."""
    from pipeline import dedupe, extract

    result = extract.extract_in_worker(html, url, extract_cfg)
    if isinstance(result, str):
        return ExtractedPage(article=None, error=result)
    fp = dedupe.fingerprint(result.text, dedupe_cfg)
    return ExtractedPage(article=result, fingerprint=fp.to_bytes() if fp else None)


def _warm_up() -> None:
    # import trafilatura once per worker, not on its first page
    import trafilatura  # noqa: F401

    from pipeline import dedupe  # noqa: F401


class ExtractionPool:
    def __init__(self, cfg: ExtractConfig):
        self.cfg = cfg
        self.workers = cfg.workers or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: forking the event loop's process (threads, sockets) is unsafe,
            # and max_tasks_per_child is not allowed with plain fork
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["pipeline.pool"])
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_warm_up,
                max_tasks_per_child=self.cfg.max_tasks_per_child or None)
        return self._executor

    async def extract(self, html: bytes, url: str, dedupe_cfg: DedupeConfig) -> ExtractedPage:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._start(), extract_page, html, url,
                                              self.cfg, dedupe_cfg)
        except BrokenProcessPool:
            # a worker died (out of memory, killed): start afresh for the next page
            self.close()
            return ExtractedPage(article=None, error="extract: worker process died")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

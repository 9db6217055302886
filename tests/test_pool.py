"""The extraction pool (pipeline/extract/pool.py): real worker processes, forked
from the real forkserver (with the service's preload), on real article pages,
judged by the same task the cycle gives them (pipeline.verdict.judge_html)."""

import asyncio
import os
import signal
import time

import psutil

from newsweb import article_pages
from pipeline.config import DedupeConfig, ExtractConfig
from pipeline.cycle import WORKER_PRELOAD
from pipeline.errors import ExtractError
from pipeline.extract.pool import ExtractionPool
from pipeline.match.rules import parse_rule_set
from pipeline.verdict import RuleSet, judge_html

URL = "http://news.example/2024/12/10/story"


def _page() -> bytes:
    return next(iter(article_pages().values()))


RULES = RuleSet.of(*parse_rule_set({"any": ["Syria"]}, [], {}))


async def _judge(pool: ExtractionPool):
    """One page through the pool as the cycle sends it; a worker's death comes
    back as the ExtractError the cycle catches."""
    try:
        return await pool.run(judge_html, _page(), URL, pool.cfg, DedupeConfig(), RULES)
    except ExtractError as exc:
        return exc


def _worker_pids(pool: ExtractionPool) -> list[int]:
    return list(pool._executor._processes) if pool._executor else []


def test_workers_start_before_the_first_page_and_are_released_by_close():
    pool = ExtractionPool(ExtractConfig(workers=2), WORKER_PRELOAD)

    async def scenario():
        pool.start_soon()                      # as the cycle does when pages are on their way
        pool.start_soon()                      # a second feed: the same start, not another
        await asyncio.shield(pool._started(pool._current()))
        started = _worker_pids(pool)
        page = await _judge(pool)
        return started, page

    try:
        started, page = asyncio.run(scenario())
        assert len(started) == 2
        assert page.article is not None and page.error is None
        assert _worker_pids(pool) == started   # the page went to a worker already running
    finally:
        pool.close()
    assert pool._executor is None
    for pid in started:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_a_killed_worker_costs_its_page_not_the_pool():
    pool = ExtractionPool(ExtractConfig(workers=1), WORKER_PRELOAD)

    async def scenario():
        first = await _judge(pool)
        (victim,) = _worker_pids(pool)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(victim) and psutil.Process(victim).status() != "zombie":
            assert time.monotonic() < deadline, "the killed worker did not die"
            await asyncio.sleep(0.05)
        second = await _judge(pool)
        third = await _judge(pool)
        return first, second, third, victim

    try:
        first, second, third, victim = asyncio.run(scenario())
    finally:
        pool.close()
    assert first.article is not None
    # the page in the dead worker's hands is recorded as failed, with the reason...
    assert isinstance(second, ExtractError) and str(second) == "extract: worker process died"
    # ...and the next page gets a fresh worker
    assert third.article is not None and third.error is None

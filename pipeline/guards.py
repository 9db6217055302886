"""What keeps one cycle bounded whatever happens: the stop grace, the clock
floor, and what an unexpected error becomes.

**The stop grace.** A download in flight gets ``STOP_GRACE`` seconds from the
stop request; a hung server must not hold a shutdown for a whole request
deadline. A page whose download finished gets ``STOP_GRACE`` seconds of
extraction counted from when the extraction could start, that is once the
worker processes are up: their cold start (imports and warm-up, seconds of
CPU, many more on a busy machine) is not the page's slowness, and a page
already downloaded is worth finishing. The workers themselves get
``WORKER_START_GRACE`` to come up. Whatever is abandoned was never committed,
so the next cycle simply does it again.

**The clock floor.** A cycle stamps what it finds with its start time, never
earlier than the last recorded cycle's start or digest's writing: after the
clock stepped back, new items would otherwise fall into a digest window that
was already written, and be in no digest at all. (A clock that was once far
ahead holds the stamps there until it catches up: items come late, never
lost, and ``newswatch health`` reports the cycle "in the future" meanwhile.)

**Unexpected errors.** Anything a stage raises that is not one of
``pipeline.errors`` is a bug or an input nobody foresaw: it becomes the feed's
(or the page's) failure with its type and message, and its traceback is
logged in full once per kind of error and feed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from datetime import datetime
from typing import Awaitable, TypeVar

from pipeline.errors import FeedError, StageError
from pipeline.redact import redact_text, redact_url

log = logging.getLogger("newswatch.cycle")

STOP_GRACE = 4.0            # seconds the work in flight gets to finish after a stop request
WORKER_START_GRACE = 30.0   # seconds after a stop the workers may still take to come up
T = TypeVar("T")


class Grace:
    """The stop deadlines of one cycle (one event loop)."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.stopped = asyncio.Event()
        self.stopped_at = 0.0              # loop time of the stop request

    async def watch(self) -> None:
        """Mirror the thread-side stop event into this loop (run as a task)."""
        while not self.stop.is_set():
            await asyncio.sleep(0.1)
        self.stopped_at = asyncio.get_running_loop().time()
        self.stopped.set()

    async def within(self, work: Awaitable[T], *, since: float | None = None,
                     grace: float = STOP_GRACE) -> T | None:
        """``work``'s result, or None when it was abandoned: ``grace`` seconds after
        the stop request, or after ``since`` (loop time) if that is later."""
        task = asyncio.ensure_future(work)
        quit_ = asyncio.ensure_future(self._expiry(since, grace))
        try:
            done, _ = await asyncio.wait({task, quit_}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            quit_.cancel()
            raise
        if task in done:
            quit_.cancel()
            return task.result()
        task.cancel()
        return None

    async def _expiry(self, since: float | None, grace: float) -> None:
        await self.stopped.wait()
        loop = asyncio.get_running_loop()
        start = max(self.stopped_at, since or 0.0)
        await asyncio.sleep(max(0.0, start + grace - loop.time()))


def discovery_time(now: datetime, floor: datetime | None) -> datetime:
    """``now``, or ``floor`` (the last recorded cycle's start or digest's writing)
    when the clock is behind it (see the module docstring)."""
    if floor is None or now >= floor:
        return now
    log.warning("clock: the clock says %s, before the last recorded cycle or digest (%s);"
                " did it go back? New items are stamped %s, so that a digest still to be"
                " written holds them", now.isoformat(timespec="seconds"),
                floor.isoformat(timespec="seconds"), floor.isoformat(timespec="seconds"))
    return floor


_TRACEBACKS_SHOWN: set[tuple[str, str]] = set()   # (error type, URL) logged in full


def as_stage_error(exc: Exception, url: str, error: type[StageError] = FeedError
                   ) -> StageError:
    """``exc`` as the failure of the feed (or page) at ``url``: a StageError as it
    is; anything else as ``error("unexpected <Type>: <message>")``, its traceback
    logged (in full once per type and URL, at debug level after that)."""
    if isinstance(exc, StageError):     # e.g. storage: the database is locked
        return exc
    shown = redact_url(url)
    key = (type(exc).__name__, url)
    level = logging.DEBUG if key in _TRACEBACKS_SHOWN else logging.WARNING
    _TRACEBACKS_SHOWN.add(key)
    log.log(level, "%s: unexpected error while handling %s:\n%s", error.stage, shown,
            redact_text("".join(traceback.format_exception(exc))).rstrip())
    return error(f"unexpected {type(exc).__name__}: {redact_text(str(exc))[:300]}", url=shown)

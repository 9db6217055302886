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
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence

from pipeline.config import ExtractConfig
from pipeline.errors import ExtractError


def _start_worker(parent_pid: int) -> None:
    """Worker initializer: imports and warm-up are done (the ``preload`` modules,
    imported in the forkserver); what a worker needs is to die with its parent."""
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True,
                     name="newswatch-parent-watch").start()


def _exit_with(parent_pid: int) -> None:
    """A worker waits on its task queue forever, so when the cycle's process is
    killed (SIGKILL, OOM) nothing tells it to go: it, the forkserver and the
    resource tracker would stay behind after every crash. Exit with the parent."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:   # the pid was reused by another user's process
            os._exit(0)


def _ready() -> None:
    """A task that does nothing: one per worker makes the executor start them all."""


def _start_all(executor: ProcessPoolExecutor, workers: int) -> None:
    for started in [executor.submit(_ready) for _ in range(workers)]:
        started.result()


def _start_in_thread(executor: ProcessPoolExecutor, workers: int,
                     loop: asyncio.AbstractEventLoop, started: asyncio.Future) -> None:
    try:
        _start_all(executor, workers)
        outcome: tuple = (started.set_result, None)
    except BaseException as exc:  # noqa: BLE001  handed to whoever waits for the start
        outcome = (started.set_exception, exc)
    try:
        loop.call_soon_threadsafe(_settle, started, outcome)
    except RuntimeError:          # the cycle's loop is closed: nobody waits any more
        pass


def _settle(started: asyncio.Future, outcome: tuple) -> None:
    if not started.done():
        outcome[0](outcome[1])


class ExtractionPool:
    def __init__(self, cfg: ExtractConfig, preload: Sequence[str] = ()):
        self.cfg = cfg
        self.preload = list(preload)   # modules the forkserver imports once for every worker
        self.workers = cfg.workers or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None
        self._pages = 0                  # pages given to the current executor
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._starting: tuple[ProcessPoolExecutor, asyncio.AbstractEventLoop,
                              asyncio.Future] | None = None

    def _current(self) -> ProcessPoolExecutor:
        limit = self.cfg.max_tasks_per_child * self.workers
        if self._executor is not None and limit and self._pages >= limit:
            # Recycling is done here, by replacing the executor (its workers finish the
            # pages they have, then exit), not by ProcessPoolExecutor's own
            # max_tasks_per_child: on CPython 3.11-3.13 that deadlocks as soon as pages
            # are queued when a worker retires (python/cpython#115634): a flood hung.
            old, self._executor = self._executor, None
            threading.Thread(target=old.shutdown, kwargs={"wait": True}, daemon=True,
                             name="newswatch-retire-workers").start()
        if self._executor is None:
            # forkserver: forking the event loop's process (threads, sockets) is unsafe,
            # and max_tasks_per_child is not allowed with plain fork
            ctx = multiprocessing.get_context("forkserver")
            # imports and one-time warm-up (dateparser's locales: 2-4 s) done once in the
            # forkserver, not in every worker: workers are recycled and forked from it
            ctx.set_forkserver_preload(self.preload)
            # the forkserver inherits the environment: its preload can then tell
            # that this process died while it was still warming up
            os.environ["NEWSWATCH_POOL_PARENT"] = str(os.getpid())
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_start_worker,
                initargs=(os.getpid(),))
            self._pages = 0
        return self._executor

    def _started(self, executor: ProcessPoolExecutor) -> asyncio.Future:
        """Done when the executor's workers are up. ProcessPoolExecutor forks a worker
        inside ``submit``, and the first fork waits for the forkserver's warm-up
        (seconds): in the event loop's thread that would stall every download, so
        the workers are started from a thread instead. A daemon thread, not the
        loop's executor: asyncio.run and the interpreter's exit wait for those,
        and a stop while the forkserver warms up must not wait for it."""
        loop = asyncio.get_running_loop()
        if self._starting is None or self._starting[:2] != (executor, loop):
            started = loop.create_future()
            threading.Thread(target=_start_in_thread, args=(executor, self.workers, loop, started),
                             daemon=True, name="newswatch-start-workers").start()
            # a failed start is reported by the pages that wait for it; with none
            # waiting (every fetch failed) it is not worth a "never retrieved" log
            started.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._starting = (executor, loop, started)
        return self._starting[2]

    def start_soon(self) -> None:
        """Start the workers in the background: called when pages are on their
        way, so the workers are ready when the first one arrives."""
        self._started(self._current())

    async def ready(self) -> None:
        """Wait until the workers are up (starting them if need be); a failed start
        is left for :meth:`run` to report."""
        try:
            await asyncio.shield(self._started(self._current()))
        except Exception:  # noqa: BLE001  reported by the page that runs next
            pass

    async def run(self, task: Callable[..., Any], *args: Any) -> Any:
        """``task(*args)`` in a worker; ExtractError when the worker died."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:    # one asyncio.run per cycle
            self._slots = (loop, asyncio.Semaphore(2 * self.workers))
        try:
            # a few pages per worker in flight: the backlog waits here, not in the
            # executor's queues, so a recycled executor has little left to finish
            async with self._slots[1]:
                executor = self._current()
                await asyncio.shield(self._started(executor))   # shared by every page
                self._pages += 1
                return await loop.run_in_executor(executor, task, *args)
        except BrokenProcessPool as exc:
            # a worker died (out of memory, killed): start afresh for the next page
            self.close()
            raise ExtractError("worker process died") from exc

    def close(self) -> None:
        starting, self._starting = self._starting, None
        if self._executor is not None:
            old, self._executor = self._executor, None
            if starting is not None and not starting[2].done():
                # still starting (the forkserver warming up, seconds on a busy
                # machine): a shutdown must not wait for it; released once up
                threading.Thread(target=old.shutdown, kwargs={"wait": True,
                                                              "cancel_futures": True},
                                 daemon=True, name="newswatch-release-workers").start()
            else:
                old.shutdown(wait=True, cancel_futures=True)

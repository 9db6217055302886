"""The long-lived service behind ``newswatch run``.

It loads the config, opens the database and the pipeline once, and lets
:mod:`pipeline.scheduler` call two things: a poll cycle every
``poll_interval`` and the daily digest. Around that it owns what a service
needs and a single command does not:

* live config: before each cycle the file's mtime and size are compared with
  the last ones read; a changed file is loaded and applied from that cycle on
  (the jobs are rescheduled when the timing changed). An invalid edit is
  logged once with file, key and reason, and the last good config stays.
* signals: SIGTERM and SIGINT set the cycle's stop event (items in flight
  finish and are committed, no new ones start), the scheduler is shut down
  waiting for the running job, the worker processes are closed, exit 0. If
  the job has not returned after SHUTDOWN_GRACE the process exits anyway: the
  unfinished feed's transaction was never committed, so nothing is half
  stored, and the next cycle does that feed again.
* failures: a cycle that raises is logged with its traceback and counted and
  the service carries on; a cycle that finds the database held by another
  process (``newswatch once``) is logged as "skipped: ..." and carries on.

Cycles are recorded by :func:`pipeline.cycle.run_cycle` itself, which is what
``newswatch health`` reads.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Mapping

import storage
from pipeline import dedupe, deliver, digest, maintenance, scheduler
from pipeline.archive import Archive
from pipeline.config import Settings, load_settings
from pipeline.cycle import Pipeline, idle_tick, open_pipeline, run_cycle
from pipeline.errors import ConfigError
from pipeline.rematch import InBackground

log = logging.getLogger("newswatch.service")

# Docker's stop_grace_period is 10 s; leave room to close the workers and exit.
SHUTDOWN_GRACE = 7.0


class ConfigWatcher:
    """Notices edits to the config file by (mtime, size) and reloads it."""

    def __init__(self, path: Path, env: Mapping[str, str]):
        self.path = path
        self.env = env
        self.stamp = self._stamp()
        self.rejected: tuple | None = None     # stamp of the last invalid version, logged once

    def _stamp(self) -> tuple | None:
        try:
            st = self.path.stat()
        except OSError:
            return None                        # gone for now (an editor's save-by-rename)
        return st.st_mtime_ns, st.st_size

    def changed_settings(self) -> Settings | None:
        """New settings if the file changed and is valid; None otherwise."""
        stamp = self._stamp()                  # before reading: a later write is seen next time
        if stamp == self.stamp or stamp == self.rejected:
            return None
        try:
            settings = load_settings(self.path, env=self.env)
        except ConfigError as exc:
            self.rejected = stamp
            log.error("config: invalid edit ignored, the last good config stays in force: "
                      "file %s, key %s: %s", exc.file or self.path, exc.key or "-", exc.reason)
            return None
        except Exception:
            # a loader bug must not fail every cycle from now on: same as an invalid edit
            self.rejected = stamp
            log.exception("config: could not load the edit of %s; the last good config stays "
                          "in force", self.path)
            return None
        self.stamp, self.rejected = stamp, None
        return settings


def changed_keys(old: Settings, new: Settings) -> list[str]:
    return [f.name for f in fields(Settings) if getattr(old, f.name) != getattr(new, f.name)]


class Service:
    def __init__(self, config: ConfigWatcher, settings: Settings, pipeline: Pipeline):
        self.config = config
        self.pipeline = pipeline
        self.stop = threading.Event()          # the cycle's stop: finish in-flight work
        self.exiting = threading.Event()       # the main thread's signal to shut down
        self.signals = 0
        self.cycling = threading.Lock()        # one cycle at a time in this process
        self.digesting = threading.Lock()      # one digest decision at a time
        self.failed_cycles = 0
        self.last_cycle: datetime | None = None  # when this process last started a cycle
        self.schedule = scheduler.create_schedule(settings, self.poll, self.scheduled_digest)
        self.reading_room = None               # pipeline.web, when web.port is set
        self.rematch = InBackground(pipeline.store, self.stop, log.info)

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    @property
    def store(self) -> storage.Store:
        return self.pipeline.store

    # --- the jobs --------------------------------------------------------------

    def poll(self) -> None:
        """The poll job: apply an edited config, run one cycle, log its summary."""
        if self.stop.is_set() or not self.cycling.acquire(blocking=False):
            return
        try:
            self.apply_config_edits()
            now = scheduler.utc_now()
            if idle_tick(self.pipeline, now, self.last_cycle):
                return                         # nothing due (adaptive polling)
            self.last_cycle = now
            if self.rematch.promoted.is_set():  # items rematch promoted: known as originals
                self.rematch.promoted.clear()
                self.pipeline.archive = Archive(self.settings, self.store)
            with storage.cycle_lock(self.store, wait=0):
                summary = run_cycle(self.pipeline, stop=self.stop)
            log.info("%s", summary.line())
            self.deliver_after_cycle(summary)
        except storage.CycleLocked as exc:
            log.info("skipped: %s", exc)
        except Exception:
            self.failed_cycles += 1
            log.exception("cycle failed (%d failed since start); the service carries on",
                          self.failed_cycles)
        finally:
            self.cycling.release()
        if not self.stop.is_set():
            # a digest job the machine slept through is written on the next poll
            self.write_due_digest()

    def scheduled_digest(self) -> None:
        self.write_due_digest()

    def write_due_digest(self, now: datetime | None = None) -> None:
        """Write the digest that :func:`scheduler.digest_due` says is due, if any."""
        with self.digesting:
            settings, store = self.settings, self.store
            now = now or scheduler.utc_now()
            try:
                day = scheduler.digest_due(now, settings,
                                           lambda d: storage.digest_written(store, d))
                if day is None:
                    return
                paths = digest.write_day(settings, store, day, now=now)
            except Exception:
                log.exception("digest: failed; the service carries on and tries again "
                              "after the next cycle")
                return
            log.info("digest: wrote %s (%s)", day.isoformat(),
                     ", ".join(str(p) for p in paths))
            self.deliver_after_digest(day)
            self.daily_maintenance(now)

    def daily_maintenance(self, now: datetime) -> None:
        try:
            forgotten = maintenance.daily(self.settings, self.store, now)
        except Exception:
            log.exception("maintenance: failed; tried again after the next digest")
            return
        if forgotten:
            log.info("maintenance: forgot the text of %d off-topic items older than %s",
                     forgotten, self.settings.history.keep)

    def deliver_after_cycle(self, summary) -> None:
        """The cycle's alerts and the Atom feeds; a failure here is logged and
        is not a failed cycle (the outbox retries next time)."""
        if self.stop.is_set():
            return                             # stopping: the next start delivers them
        try:
            report = deliver.after_cycle(self.settings, self.store, summary)
        except Exception:
            log.exception("deliver: failed; what was not sent is sent after the next cycle")
            return
        if report.sent or report.failed:
            log.info("%s", report.line())

    def deliver_after_digest(self, day) -> None:
        try:
            report = deliver.after_digest(self.settings, self.store, day)
        except Exception:
            log.exception("deliver: the digest was written but not sent; it is sent after "
                          "the next cycle")
            return
        if report.sent or report.failed:
            log.info("%s", report.line())

    def apply_config_edits(self) -> None:
        new = self.config.changed_settings()
        if new is None:
            return
        old = self.settings
        keys = changed_keys(old, new)
        self.pipeline = self.pipeline.reconfigure(new)
        if new.seeds_dir != old.seeds_dir:
            dedupe.check_seeds(new.seeds_dir)
        log.info("config: reloaded %s (changed: %s)", self.config.path,
                 ", ".join(keys) or "nothing that matters")
        if {"topic", "alerts", "people"} & set(keys):
            self.rematch.request(new)          # in its own thread: cycles go on
        if self.schedule.reschedule(new):
            log.info("schedule: %s", scheduler.describe(self.schedule))

    # --- life cycle ------------------------------------------------------------

    def run(self) -> int:
        self._install_signal_handlers()
        log.info("service: started, pid %d, config %s, database %s, digests in %s",
                 os.getpid(), self.config.path, self.store.shown_url,
                 self.settings.output_dir / "digests")
        self.write_due_digest()                # catch up a digest missed while down
        if self.exiting.is_set():
            return self.shutdown()
        self.schedule.start()
        log.info("schedule: %s", scheduler.describe(self.schedule))
        if self.settings.web.port is not None:  # the reading room; its imports only then
            from pipeline import web
            self.reading_room = web.start_in_service(lambda: self.settings, self.store)
        while not self.exiting.wait(1.0):
            pass
        return self.shutdown()

    def shutdown(self) -> int:
        self.stop.set()
        log.info("service: stopping; finishing the items in flight")
        done = threading.Thread(target=self.schedule.shutdown, kwargs={"wait": True},
                                name="scheduler-shutdown", daemon=True)
        done.start()
        done.join(SHUTDOWN_GRACE)
        if done.is_alive():
            log.warning("service: the running cycle did not finish within %.0fs; exiting "
                        "without it (its unfinished feed was not committed and is polled "
                        "again next time)", SHUTDOWN_GRACE)
            _kill_workers(self.pipeline)
            _flush_logs()
            os._exit(0)
        self.rematch.join(SHUTDOWN_GRACE)        # it stops between two batches
        if self.reading_room is not None:
            self.reading_room.stop()
        self.pipeline.close()
        self.store.close()
        log.info("service: stopped")
        return 0

    def _install_signal_handlers(self) -> None:
        def on_signal(signum, _frame) -> None:
            self.signals += 1
            if self.signals > 1:
                # a second Ctrl-C: the user does not want to wait
                log.warning("service: %s again; exiting now", signal.Signals(signum).name)
                _flush_logs()
                os._exit(1)
            log.info("service: %s received", signal.Signals(signum).name)
            self.stop.set()
            self.exiting.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)


def run_service(config_path: str | Path, *, env: Mapping[str, str] | None = None) -> int:
    """Run until SIGTERM or SIGINT; 0 after a clean stop.

    A config that is invalid at start-up raises ConfigError (the CLI exits 2):
    there is no last good config to fall back on yet.
    """
    env = dict(os.environ if env is None else env)
    path = Path(config_path)
    watcher = ConfigWatcher(path, env)        # stamp first: an edit while loading is seen
    settings = load_settings(path, env=env)
    dedupe.check_seeds(settings.seeds_dir)
    # APScheduler's "added job"/"scheduler started" lines repeat what we log
    logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)
    started = time.monotonic()
    store = storage.open_store(settings.database_url)
    pipeline = open_pipeline(settings, store)
    log.debug("service: pipeline ready in %.1fs", time.monotonic() - started)
    return Service(watcher, settings, pipeline).run()


def _kill_workers(pipeline: Pipeline) -> None:
    """Best effort before a forced exit: extraction workers blocked on their
    queue would otherwise outlive us (outside a container nobody reaps them)."""
    executor = getattr(pipeline.pool, "_executor", None)
    for proc in list(getattr(executor, "_processes", {}).values()):
        try:
            proc.kill()
        except (OSError, AttributeError):
            pass


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()

"""When things run: the poll tick and the daily digest at ``digest_time`` in
the configured time zone. Nothing here polls or writes; the service hands in
two callables and this module decides when to call them.

The poll job ticks every ``poll_interval``, or with ``network.poll_adaptive``
every :func:`pipeline.feedstate.tick` (``min(poll_min, poll_interval)``), so a
feed due every ``poll_min`` is polled on time; which feeds a tick polls, and
whether it has anything to do at all, is decided in pipeline/feedstate.py.

APScheduler 3 (a :class:`BackgroundScheduler`) does the timing:

* both jobs have fixed ids and ``replace_existing=True``, so adding them again
  replaces rather than duplicates;
* ``max_instances=1``: a cycle still running when the next one is due is not
  started a second time (APScheduler logs "skipped: maximum number of running
  instances reached");
* ``coalesce=True``: after the process was stopped in its tracks (a suspended
  laptop, a paused container) the polls it missed collapse into one run;
* the digest runs on a :class:`CronTrigger` with the IANA zone, so 07:00 stays
  07:00 local time across daylight-saving changes.

Which day a digest covers: the job writes the digest of the local day it
fires on (at 07:00 on 9 December it writes ``2024-12-09``), because the
digest is the morning's reading and it is the day the reader sees in the file
name. :func:`digest_due` is the one rule for both the scheduled job and the
catch-up at start-up, and it says "not again" once that day is recorded as
written, so a restart, an ambiguous local time (01:30 happens twice when the
clocks go back) or a late job never writes a day twice.

Every decision takes ``now`` (or a ``clock``) so tests inject the time
instead of sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Mapping

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pipeline.config import Settings
from pipeline.feedstate import tick

log = logging.getLogger("newswatch.scheduler")

POLL_JOB = "poll"
DIGEST_JOB = "digest"
Clock = Callable[[], datetime]

# A coalesced poll is always less than one interval late, so one interval of
# grace (at least a minute, for a busy machine) is enough for it to run.
MIN_POLL_GRACE = timedelta(minutes=1)
# A digest that comes late is still worth writing the same day; digest_due
# keeps a very late run from writing the wrong day.
DIGEST_GRACE = timedelta(hours=12)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def digest_due(now: datetime, settings: Settings, written: Callable[[str], bool]) -> date | None:
    """The local day whose digest should be written at ``now``, or None.

    Due when the local time of day has reached ``digest_time`` and that day's
    digest is not recorded yet (``written("YYYY-MM-DD")``, e.g.
    ``storage.digest_written``). Both the scheduled job and the start-up
    catch-up ask this, so neither writes a day twice.
    """
    local = now.astimezone(settings.tz)
    if local.time().replace(tzinfo=None) < settings.digest_time:
        return None
    day = local.date()
    return None if written(day.isoformat()) else day


def poll_trigger(settings: Settings, start: datetime) -> IntervalTrigger:
    """Every tick (``poll_interval``, or shorter when adaptive) counted from ``start``."""
    return IntervalTrigger(seconds=tick(settings).total_seconds(), start_date=start,
                           timezone=timezone.utc)


def digest_trigger(settings: Settings) -> CronTrigger:
    """``digest_time`` every day, local time in the configured zone (DST-correct)."""
    return CronTrigger(hour=settings.digest_time.hour, minute=settings.digest_time.minute,
                       timezone=settings.tz)


def poll_grace(settings: Settings) -> int:
    return int(max(tick(settings), MIN_POLL_GRACE).total_seconds())


def timing(settings: Settings) -> tuple:
    """What the schedule depends on; reschedule only when this changes."""
    return tick(settings), settings.digest_time, settings.timezone


@dataclass
class Schedule:
    """The two jobs on one background scheduler."""

    scheduler: BackgroundScheduler
    settings: Settings
    poll: Callable[[], None]
    digest: Callable[[], None]
    clock: Clock = utc_now

    def start(self) -> None:
        """Start the scheduler; the first poll runs at once."""
        self._add_jobs(first_poll=self.clock())
        self.scheduler.start()

    def reschedule(self, settings: Settings) -> bool:
        """Follow a new config's timing from now on; False when nothing changed.

        The next poll is one new interval from now (the caller is usually the
        poll that just noticed the edit), the next digest is the next
        ``digest_time`` in the new zone.
        """
        if timing(settings) == timing(self.settings):
            self.settings = settings
            return False
        self.settings = settings
        now = self.clock()
        self._add_jobs(first_poll=now + tick(settings))
        return True

    def _add_jobs(self, first_poll: datetime) -> None:
        s = self.settings
        self.scheduler.add_job(
            self.poll, poll_trigger(s, first_poll), id=POLL_JOB, name="poll cycle",
            replace_existing=True, max_instances=1, coalesce=True,
            misfire_grace_time=poll_grace(s), next_run_time=first_poll)
        self.scheduler.add_job(
            self.digest, digest_trigger(s), id=DIGEST_JOB, name="daily digest",
            replace_existing=True, max_instances=1, coalesce=True,
            misfire_grace_time=int(DIGEST_GRACE.total_seconds()))

    def next_runs(self) -> dict[str, datetime | None]:
        # a job added before start() has no next_run_time yet
        return {job.id: getattr(job, "next_run_time", None) for job in self.scheduler.get_jobs()}

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait`` block until running jobs have returned."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)


def create_schedule(settings: Settings, poll: Callable[[], None], digest: Callable[[], None],
                    *, clock: Clock = utc_now,
                    executors: Mapping[str, BaseExecutor] | None = None) -> Schedule:
    """A schedule for ``settings``; call :meth:`Schedule.start` to begin.

    ``executors`` lets tests replace APScheduler's thread pool with one that
    records what would run.
    """
    scheduler = BackgroundScheduler(timezone=timezone.utc, executors=dict(executors or {}),
                                    daemon=True)
    return Schedule(scheduler=scheduler, settings=settings, poll=poll, digest=digest,
                    clock=clock)


def describe(schedule: Schedule) -> str:
    """"poll every 0:30:00, digest at 07:00 Europe/London (next 2024-12-10 07:00 GMT)"."""
    s = schedule.settings
    nxt = schedule.next_runs().get(DIGEST_JOB)
    when = f" (next {nxt.astimezone(s.tz):%Y-%m-%d %H:%M %Z})" if nxt else ""
    net = s.network
    poll = (f"poll each feed at its pace ({timedelta(seconds=net.poll_min)} to "
            f"{timedelta(seconds=net.poll_max)}, new feeds every {s.poll_interval}; tick every "
            f"{tick(s)})" if net.poll_adaptive else f"poll every {s.poll_interval}")
    return f"{poll}, digest at {s.digest_time:%H:%M} {s.timezone}{when}"

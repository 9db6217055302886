"""A clock the tests move by hand, and APScheduler made to read it: the real
scheduler's decisions (when a job fires, coalescing, misfires) on virtual time,
with no sleeps (tests/test_scheduler.py, tests/test_pace.py)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime):
        self.now, self.lock = start, threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.now += delta


def scheduler_reads(clock: FakeClock, monkeypatch) -> FakeClock:
    """Make APScheduler's ``datetime.now`` (in its scheduler and executors) ``clock``."""
    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock().astimezone(tz) if tz else clock().replace(tzinfo=None)

    import apscheduler.executors.base as ex_base
    import apscheduler.schedulers.base as sch_base
    monkeypatch.setattr(sch_base, "datetime", FakeDatetime)
    monkeypatch.setattr(ex_base, "datetime", FakeDatetime)
    return clock

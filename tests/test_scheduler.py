"""The scheduling decisions, with an injected clock instead of sleeps: when the
digest is due (catch-up and "already written"), where the daily digest falls
across daylight-saving changes, and that APScheduler, as configured, collapses
missed polls into one and never starts a poll while one is still running."""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.executors.base import BaseExecutor
from fakeclock import FakeClock, scheduler_reads

from pipeline import scheduler as sched
from pipeline.config import settings_from_mapping

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


def settings(**over):
    raw = {"feeds": [{"name": "a", "url": "http://feeds.example/rss"}],
           "topic": {"any": ["prison"]}, "alerts": [{"name": "sednaya", "any": ["Sednaya"]}],
           "timezone": "Europe/London", "digest_time": "07:00", "poll_interval": "30m"}
    raw.update(over)
    return settings_from_mapping(raw)


def never_written(day: str) -> bool:
    return False


# --- digest_due: the catch-up rule -------------------------------------------

def test_digest_not_due_before_digest_time():
    now = datetime(2024, 12, 9, 6, 59, 59, tzinfo=LONDON)
    assert sched.digest_due(now, settings(), never_written) is None


def test_digest_due_from_digest_time_on_for_the_local_day():
    s = settings()
    assert sched.digest_due(datetime(2024, 12, 9, 7, 0, tzinfo=LONDON), s,
                            never_written) == date(2024, 12, 9)
    assert sched.digest_due(datetime(2024, 12, 9, 23, 59, tzinfo=LONDON), s,
                            never_written) == date(2024, 12, 9)


def test_digest_not_due_twice_for_the_same_day():
    written = {"2024-12-09"}
    now = datetime(2024, 12, 9, 9, 0, tzinfo=LONDON)
    assert sched.digest_due(now, settings(), written.__contains__) is None
    # the next day it is due again, for the next day
    assert sched.digest_due(now + timedelta(days=1), settings(),
                            written.__contains__) == date(2024, 12, 10)


def test_digest_day_is_the_configured_zones_day_not_utcs():
    s = settings(timezone="Asia/Damascus", digest_time="07:00")   # UTC+3
    # 04:30 UTC on the 9th is 07:30 in Damascus: due, for the 9th
    assert sched.digest_due(datetime(2024, 12, 9, 4, 30, tzinfo=UTC), s,
                            never_written) == date(2024, 12, 9)
    # 22:30 UTC on the 9th is already 01:30 on the 10th there: not yet due
    assert sched.digest_due(datetime(2024, 12, 9, 22, 30, tzinfo=UTC), s,
                            never_written) is None


def test_digest_due_uses_local_wall_time_across_dst():
    s = settings()
    # 06:30 UTC on 30 March 2025 is 07:30 BST: due; in winter it would be 06:30 GMT
    assert sched.digest_due(datetime(2025, 3, 30, 6, 30, tzinfo=UTC), s,
                            never_written) == date(2025, 3, 30)
    assert sched.digest_due(datetime(2025, 3, 29, 6, 30, tzinfo=UTC), s, never_written) is None


# --- the digest trigger across daylight-saving changes ------------------------

def fire_times(trigger, start: datetime, n: int) -> list[datetime]:
    out, prev, now = [], None, start
    for _ in range(n):
        nxt = trigger.get_next_fire_time(prev, now)
        out.append(nxt)
        prev = now = nxt
    return out


def test_digest_stays_at_seven_local_when_clocks_go_forward():
    trigger = sched.digest_trigger(settings())
    times = fire_times(trigger, datetime(2025, 3, 28, 12, tzinfo=UTC), 3)
    assert [t.astimezone(UTC) for t in times] == [
        datetime(2025, 3, 29, 7, 0, tzinfo=UTC),     # GMT
        datetime(2025, 3, 30, 6, 0, tzinfo=UTC),     # BST from 30 March
        datetime(2025, 3, 31, 6, 0, tzinfo=UTC)]
    assert all(t.astimezone(LONDON).time() == time(7, 0) for t in times)


def test_digest_stays_at_seven_local_when_clocks_go_back():
    trigger = sched.digest_trigger(settings())
    times = fire_times(trigger, datetime(2025, 10, 25, 0, tzinfo=UTC), 2)
    assert [t.astimezone(UTC) for t in times] == [
        datetime(2025, 10, 25, 6, 0, tzinfo=UTC),    # BST
        datetime(2025, 10, 26, 7, 0, tzinfo=UTC)]    # GMT from 26 October


def test_ambiguous_digest_time_may_fire_twice_but_writes_once():
    # 01:30 happens twice on 26 October 2025 in London; whatever the trigger
    # does then, the "already written" guard lets only the first run write
    s = settings(digest_time="01:30")
    times = fire_times(sched.digest_trigger(s), datetime(2025, 10, 25, 12, tzinfo=UTC), 3)
    same_day = [t for t in times if t.astimezone(LONDON).date() == date(2025, 10, 26)]
    assert same_day, times
    written: set[str] = set()
    writes = []
    for t in same_day:
        day = sched.digest_due(t, s, written.__contains__)
        if day:
            written.add(day.isoformat())
            writes.append(day)
    assert writes == [date(2025, 10, 26)]


def test_nonexistent_digest_time_still_fires_that_day():
    # 01:30 does not exist on 30 March 2025 in London (01:00 -> 02:00)
    s = settings(digest_time="01:30")
    times = fire_times(sched.digest_trigger(s), datetime(2025, 3, 29, 12, tzinfo=UTC), 2)
    assert times[0].astimezone(LONDON).date() == date(2025, 3, 30)
    assert sched.digest_due(times[0], s, never_written) == date(2025, 3, 30)


# --- APScheduler as configured, on an injected clock --------------------------

class RecordingExecutor(BaseExecutor):
    """Records each submission instead of running it; a submission counts as
    running (for max_instances) until the test calls finish()."""

    def __init__(self):
        super().__init__()
        self.submitted: list[tuple[str, list[datetime]]] = []
        self.cond = threading.Condition()

    def _do_submit_job(self, job, run_times):
        with self.cond:
            self.submitted.append((job.id, list(run_times)))
            self.cond.notify_all()

    def finish(self, job_id: str) -> None:
        self._run_job_success(job_id, [])

    def wait_for(self, n: int, timeout: float = 5.0) -> list:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.submitted) >= n, timeout), self.submitted
            return list(self.submitted)


@pytest.fixture
def clocked(monkeypatch):
    """A started Schedule whose scheduler reads the fake clock."""
    clock = scheduler_reads(FakeClock(datetime(2024, 12, 9, 10, 0, tzinfo=UTC)), monkeypatch)
    executor = RecordingExecutor()
    schedule = sched.create_schedule(settings(poll_interval="60s"), lambda: None, lambda: None,
                                     clock=clock, executors={"default": executor})
    events = []
    schedule.scheduler.add_listener(events.append, EVENT_JOB_MAX_INSTANCES)
    schedule.start()
    yield schedule, clock, executor, events
    schedule.shutdown(wait=False)


def polls(submitted):
    return [run_times for job_id, run_times in submitted if job_id == sched.POLL_JOB]


def test_first_poll_runs_at_start_up(clocked):
    schedule, clock, executor, _ = clocked
    submitted = executor.wait_for(1)
    assert polls(submitted) == [[clock()]]


def test_missed_polls_collapse_into_one_run(clocked):
    schedule, clock, executor, _ = clocked
    executor.wait_for(1)
    executor.finish(sched.POLL_JOB)
    start = clock()
    clock.advance(timedelta(minutes=10, seconds=30))    # ten polls missed
    schedule.scheduler.wakeup()
    submitted = executor.wait_for(2)
    assert polls(submitted)[1:] == [[start + timedelta(minutes=10)]]
    # and the next one is back on the grid, not a burst of catch-up runs
    assert schedule.next_runs()[sched.POLL_JOB] == start + timedelta(minutes=11)


def test_a_running_poll_is_not_started_twice(clocked):
    schedule, clock, executor, events = clocked
    executor.wait_for(1)                                # still "running"
    clock.advance(timedelta(seconds=61))
    schedule.scheduler.wakeup()
    deadline = datetime.now() + timedelta(seconds=5)
    while not events and datetime.now() < deadline:
        threading.Event().wait(0.02)
    assert [e.job_id for e in events] == [sched.POLL_JOB]
    assert len(polls(executor.submitted)) == 1
    executor.finish(sched.POLL_JOB)                     # done: the next one may start
    clock.advance(timedelta(seconds=60))
    schedule.scheduler.wakeup()
    assert len(polls(executor.wait_for(2))) == 2


def test_jobs_have_fixed_ids_and_guards(clocked):
    schedule, *_ = clocked
    jobs = {j.id: j for j in schedule.scheduler.get_jobs()}
    assert set(jobs) == {sched.POLL_JOB, sched.DIGEST_JOB}
    for job in jobs.values():
        assert job.max_instances == 1 and job.coalesce is True
        assert job.misfire_grace_time and job.misfire_grace_time > 0
    assert jobs[sched.POLL_JOB].misfire_grace_time >= 60


def test_reschedule_replaces_jobs_only_when_timing_changes(clocked):
    schedule, clock, executor, _ = clocked
    assert schedule.reschedule(settings(poll_interval="60s", alerts=[])) is False
    assert schedule.reschedule(settings(poll_interval="5m", digest_time="08:15",
                                        timezone="Asia/Damascus")) is True
    jobs = {j.id: j for j in schedule.scheduler.get_jobs()}
    assert len(schedule.scheduler.get_jobs()) == 2         # replaced, not added
    assert jobs[sched.POLL_JOB].next_run_time == clock() + timedelta(minutes=5)
    nxt = jobs[sched.DIGEST_JOB].next_run_time.astimezone(ZoneInfo("Asia/Damascus"))
    assert nxt.time() == time(8, 15)
    assert "digest at 08:15 Asia/Damascus" in sched.describe(schedule)

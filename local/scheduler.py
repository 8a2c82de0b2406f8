"""EventBridge Scheduler on one machine: fires storage.json's schedules on their crons in their time zone.

Each fire invokes the scheduler function (in-process, as ``LocalFunction``) with the payload the deployed schedule
sends: the job type, the cron, and the nominal fire time in UTC ISO 8601 (``<aws.scheduler.scheduled-time>``).
Crons are five fields (minute hour day-of-month month day-of-week) with names for months and days, ranges, lists
and steps; when both day fields are restricted a day matching either fires (cron's rule).

Daylight saving time as EventBridge Scheduler handles it: a wall-clock time that does not exist on the day clocks
go forward is skipped, and one that happens twice on the day they go back fires once, at its first occurrence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo

from local.functions import LocalFunction
from local.service import BackgroundService
from ttai.layout import ScheduleLayout
from ttai.observability import logger

MISSED_AFTER_SECONDS = 300
SEARCH_DAYS = 366 * 8  # far enough for any satisfiable cron (29 February falls within eight years)
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


class CronError(ValueError):
    """A cron expression this scheduler cannot read; the message says which field and why."""


def _field(text: str, name: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    def value(token: str) -> int:
        token = token.upper()
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise CronError(f"{name}: {token!r} is not a number{' or a name' if names else ''}")
        return int(token)

    found: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{name}: step {step_text!r} is not a positive number")
            step = int(step_text)
        if spec in {"*", "?"}:
            start, end = low, high
        elif "-" in spec:
            first, _, last = spec.partition("-")
            start, end = value(first), value(last)
        else:
            start = value(spec)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise CronError(f"{name}: {part!r} is outside {low}-{high} or runs backwards")
        found.update(range(start, end + 1, step))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month was * or ?
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 5:
            raise CronError(f"{text!r}: a cron has five fields (minute hour day month weekday), not {len(fields)}")
        minute, hour, day, month, weekday = fields
        weekdays = _field(weekday, "day of week", 0, 7, _DAYS)
        return cls(
            text=text,
            minutes=_field(minute, "minute", 0, 59),
            hours=_field(hour, "hour", 0, 23),
            days=_field(day, "day of month", 1, 31),
            months=_field(month, "month", 1, 12, _MONTHS),
            weekdays=frozenset(d % 7 for d in weekdays),  # 7 is Sunday too
            any_day=day in {"*", "?"},
            any_weekday=weekday in {"*", "?"},
        )

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def times(self) -> list[wall_time]:
        return [wall_time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]


def _exists(local: datetime) -> bool:
    """Whether a wall-clock time (aware, fold 0) happens at all: false inside the hour clocks skip in spring."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def next_fire(cron: Cron | str, after: datetime, timezone: str | ZoneInfo) -> datetime:
    """The first fire time of ``cron`` (wall clock in ``timezone``) strictly after ``after``, in UTC."""
    cron = Cron.parse(cron) if isinstance(cron, str) else cron
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    start = after.astimezone(zone)
    times = cron.times()
    for offset in range(SEARCH_DAYS):
        day = start.date() + timedelta(days=offset)
        if not cron.matches_day(day):
            continue
        for moment in times:
            local = datetime.combine(day, moment, tzinfo=zone)  # fold 0: the first of a repeated time
            if not _exists(local):
                continue
            fire = local.astimezone(UTC)
            if fire > after:
                return fire
    raise CronError(f"{cron.text!r} never fires within {SEARCH_DAYS} days")


def schedule_payload(job_type: str, cron: str, scheduled_time: datetime) -> dict[str, str]:
    """What EventBridge Scheduler sends the scheduler function (the Schedules construct's target input)."""
    return {
        "job_type": job_type,
        "cron": cron,
        "scheduled_time": scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class LocalScheduler(BackgroundService):
    """Fires every schedule at its next time, one thread; ``fire()`` runs one now (tests, ``ttai jobs run``).

    ``function`` is what each fire invokes (the stack's scheduler function); without one the scheduler only
    computes fire times.
    """

    thread_name = "local-scheduler"

    def __init__(
        self,
        schedules: Iterable[ScheduleLayout],
        timezone: str,
        *,
        function: LocalFunction | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.schedules = {s.job: s for s in schedules}
        self.timezone = ZoneInfo(timezone)
        self.crons = {job: Cron.parse(s.cron) for job, s in self.schedules.items()}
        self.function = function
        self._clock = clock
        super().__init__()
        self.fired: list[dict[str, str]] = []

    def next_fires(self, after: datetime) -> dict[str, datetime]:
        """Each job's next fire time after ``after`` (UTC)."""
        return {job: next_fire(cron, after, self.timezone) for job, cron in self.crons.items()}

    def fire(self, job_type: str, scheduled_time: datetime) -> Any:
        """Invoke the scheduler function for ``job_type`` as its schedule would at ``scheduled_time``."""
        schedule = self.schedules.get(job_type)
        if schedule is None:
            raise KeyError(f"no schedule for {job_type!r}: one of {', '.join(sorted(self.schedules))}")
        if self.function is None:
            raise RuntimeError("this scheduler was given no function to invoke: it only computes fire times")
        payload = schedule_payload(job_type, schedule.cron, scheduled_time)
        self.fired.append(payload)
        return self.function(payload)

    def _run(self) -> None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        pending = self.next_fires(now)
        while not self._stop.is_set():
            job, at = min(pending.items(), key=lambda item: item[1])
            wait = at.timestamp() - self._clock()
            if wait > 0:
                self._stop.wait(min(wait, 60.0))  # re-check at least once a minute (the clock may jump)
                continue
            if -wait > MISSED_AFTER_SECONDS:  # the machine slept through it: like a stopped schedule, no catch-up
                logger.warning("schedule missed while asleep", extra={"job_type": job, "at": at.isoformat()})
                pending[job] = next_fire(self.crons[job], datetime.fromtimestamp(self._clock(), UTC), self.timezone)
                continue
            try:
                result = self.fire(job, at)
                logger.info(
                    "schedule fired", extra={"job_type": job, "scheduled_time": at.isoformat(), "result": result}
                )
            except Exception:  # noqa: BLE001 - a failed run is Lambda's to log; the schedules keep firing
                logger.exception("scheduled job failed", extra={"job_type": job, "scheduled_time": at.isoformat()})
            pending[job] = next_fire(self.crons[job], at, self.timezone)

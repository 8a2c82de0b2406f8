"""The local scheduler's crons: next fire times in New York across daylight saving time, and the payload it sends."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from local.functions import LocalFunction
from local.scheduler import Cron, CronError, LocalScheduler, next_fire, schedule_payload
from ttai.layout import ScheduleLayout, storage_layout

NY = "America/New_York"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _schedule(job: str) -> str:
    return next(s.cron for s in storage_layout().schedules if s.job == job)


def test_the_market_open_is_0930_new_york_on_both_sides_of_the_spring_change() -> None:
    # Clocks went forward on Sunday 2026-03-08: Friday the 6th is EST (UTC-5), Monday the 9th EDT (UTC-4).
    cron = _schedule("analysis")
    friday = next_fire(cron, _utc("2026-03-06T00:00:00Z"), NY)
    monday = next_fire(cron, friday, NY)
    assert friday == _utc("2026-03-06T14:30:00Z")
    assert monday == _utc("2026-03-09T13:30:00Z")


def test_the_market_open_is_0930_new_york_on_both_sides_of_the_autumn_change() -> None:
    # Clocks went back on Sunday 2026-11-01.
    cron = _schedule("analysis")
    friday = next_fire(cron, _utc("2026-10-30T00:00:00Z"), NY)
    assert friday == _utc("2026-10-30T13:30:00Z")
    assert next_fire(cron, friday, NY) == _utc("2026-11-02T14:30:00Z")


def test_every_schedule_in_storage_json_fires_on_new_york_wall_clock() -> None:
    after = _utc("2026-03-09T12:00:00Z")  # Monday 08:00 EDT
    fires = LocalScheduler(storage_layout().schedules, NY).next_fires(after)
    assert fires == {
        "pre-market": _utc("2026-03-09T13:00:00Z"),
        "analysis": _utc("2026-03-09T13:30:00Z"),
        "intraday": _utc("2026-03-09T14:00:00Z"),
        "end-of-day": _utc("2026-03-09T20:30:00Z"),
        "weekly": _utc("2026-03-13T21:00:00Z"),
        "backup": _utc("2026-03-10T07:00:00Z"),
    }


def test_the_backup_fires_every_night_across_both_daylight_saving_changes() -> None:
    cron = Cron.parse(_schedule("backup"))
    fires = []
    at = _utc("2026-03-07T00:00:00Z")
    for _ in range(3):  # around the spring change (2026-03-08): no night is skipped
        at = next_fire(cron, at, NY)
        fires.append(at)
    at = _utc("2026-10-31T00:00:00Z")
    for _ in range(3):  # around the autumn change (2026-11-01): no night fires twice
        at = next_fire(cron, at, NY)
        fires.append(at)
    assert fires == [
        _utc("2026-03-07T08:00:00Z"),
        _utc("2026-03-08T07:00:00Z"),
        _utc("2026-03-09T07:00:00Z"),
        _utc("2026-10-31T07:00:00Z"),
        _utc("2026-11-01T08:00:00Z"),
        _utc("2026-11-02T08:00:00Z"),
    ]


def test_intraday_fires_hourly_from_ten_to_four_then_next_weekday() -> None:
    cron = Cron.parse(_schedule("intraday"))
    at = _utc("2026-03-06T14:30:00Z")  # Friday 09:30 EST
    fires = []
    for _ in range(8):
        at = next_fire(cron, at, NY)
        fires.append(at.astimezone(UTC).strftime("%a %H:%M"))
    assert fires == [f"Fri {h}:00" for h in range(15, 22)] + ["Mon 14:00"]


def test_a_time_the_spring_change_skips_does_not_fire_and_a_repeated_one_fires_once() -> None:
    # 02:00 does not exist on 2026-03-08 in New York: the daily 02:00 fires on the 7th (EST) and the 9th (EDT).
    assert next_fire("0 2 * * *", _utc("2026-03-07T07:00:00Z"), NY) == _utc("2026-03-09T06:00:00Z")
    # 01:30 happens twice on 2026-11-01 (EDT, then EST): it fires at the first and not again that day.
    first = next_fire("30 1 * * *", _utc("2026-11-01T00:00:00Z"), NY)
    assert first == _utc("2026-11-01T05:30:00Z")
    assert next_fire("30 1 * * *", first, NY) == _utc("2026-11-02T06:30:00Z")


def test_cron_syntax() -> None:
    every_quarter = Cron.parse("*/15 * * * *")
    assert sorted(every_quarter.minutes) == [0, 15, 30, 45]
    assert sorted(Cron.parse("5/20 * * * *").minutes) == [5, 25, 45]
    assert sorted(Cron.parse("0 9 * * 1-5").weekdays) == [1, 2, 3, 4, 5]
    assert sorted(Cron.parse("0 9 * * SUN,7,sat").weekdays) == [0, 6]
    assert sorted(Cron.parse("0 9 * JAN-MAR ?").months) == [1, 2, 3]
    # Both day fields restricted: either one matching is enough. Requiring both would wait for Monday 1 June.
    cron = Cron.parse("0 0 1 * MON")
    assert next_fire(cron, _utc("2026-04-01T00:00:00Z"), "UTC") == _utc("2026-04-06T00:00:00Z")  # a Monday
    assert next_fire(cron, _utc("2026-04-30T00:00:00Z"), "UTC") == _utc("2026-05-01T00:00:00Z")  # a Friday, the 1st


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 9 * *", "five fields"),
        ("61 9 * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 9 * * FUNDAY", "day of week"),
        ("5-1 9 * * *", "runs backwards"),
        ("*/0 9 * * *", "step"),
        ("0 9 31 2 *", "never fires"),
    ],
)
def test_bad_crons_are_refused_with_the_field(text: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        next_fire(text, _utc("2026-01-01T00:00:00Z"), NY)


def test_the_payload_is_what_eventbridge_scheduler_sends() -> None:
    payload = schedule_payload("analysis", "30 9 * * MON-FRI", datetime(2026, 3, 9, 9, 30, tzinfo=UTC))
    assert payload == {"job_type": "analysis", "cron": "30 9 * * MON-FRI", "scheduled_time": "2026-03-09T09:30:00Z"}


def test_the_running_scheduler_fires_the_function_at_the_fire_time() -> None:
    calls: list[dict[str, Any]] = []
    fired = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        calls.append(event)
        fired.set()
        return {"status": "success"}

    schedules = [ScheduleLayout(job="analysis", cron="30 9 * * MON-FRI", description="open")]
    fire_at = _utc("2026-03-09T13:30:00Z")
    # The scheduler's clock reads 0.3 s before Monday's open.
    offset = fire_at.timestamp() - 0.3 - time.time()
    scheduler = LocalScheduler(
        schedules,
        NY,
        function=LocalFunction("ttai-scheduler", "unused", handler=handler),
        clock=lambda: time.time() + offset,
    )
    scheduler.start()
    try:
        assert fired.wait(5), "the schedule did not fire"
    finally:
        scheduler.stop()
    assert calls[0] == {"job_type": "analysis", "cron": "30 9 * * MON-FRI", "scheduled_time": "2026-03-09T13:30:00Z"}

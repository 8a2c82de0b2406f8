"""The market calendar the jobs keep: New York dates, weekends and NYSE holidays (from the holidays package).

Only the jobs package imports this module: ``holidays`` ships in the scheduler function's own layer, and the api
function must not pay for (or even find) it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
SATURDAY = 5


def market_date(moment: datetime) -> date:
    """The calendar date in New York at ``moment`` (an aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; give it a time zone (UTC)")
    return moment.astimezone(NEW_YORK).date()


@cache
def _nyse(year: int) -> dict[date, str]:
    import holidays  # noqa: PLC0415 - manual runs and the backup never ask for the calendar

    return dict(holidays.financial_holidays("NYSE", years=year).items())


def closed_reason(day: date) -> str | None:
    """Why NYSE is closed on ``day`` ("weekend", or the holiday's name), or None on a trading day."""
    if day.weekday() >= SATURDAY:
        return "weekend"
    return _nyse(day.year).get(day)


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; give it a time zone (UTC)")
    return moment.astimezone(UTC)

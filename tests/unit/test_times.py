"""ttai.models.times: the house range at its edges, for instants (after their offset) and dates, and what stored
values read as."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from ttai.models.times import (
    EARLIEST,
    EARLIEST_DATE,
    LATEST,
    LATEST_DATE,
    CalendarDate,
    StoredDate,
    StoredInstant,
    Timestamp,
)

TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)
CALENDAR_DATE: TypeAdapter[date] = TypeAdapter(CalendarDate)


@pytest.mark.parametrize(
    "text",
    [
        "1970-01-01T00:00:00Z",
        "1970-01-01T09:00:00+09:00",  # the epoch, written in Tokyo
        "1969-12-31T19:00:00-05:00",  # the epoch, written in New York: 1969 on the wall, in range
        "2199-12-31T23:59:59.999999Z",
        "2200-01-01T13:59:59.999999+14:00",  # 2200 on the wall, 2199 in UTC
    ],
)
def test_instants_inside_the_range_are_kept_with_their_offset(text: str) -> None:
    kept = TIMESTAMP.validate_json(f'"{text}"')

    assert EARLIEST <= kept.astimezone(UTC) < LATEST
    assert kept == datetime.fromisoformat(text)
    assert kept.utcoffset() == datetime.fromisoformat(text).utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "1969-12-31T23:59:59.999999Z",
        "1970-01-01T00:00:00+00:01",  # the epoch's wall time, a minute before it
        "2200-01-01T00:00:00Z",
        "2199-12-31T23:00:00-01:00",
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC: Python cannot even convert it
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "2024-01-01T00:00:00",  # naive
    ],
)
def test_instants_outside_the_range_or_without_a_zone_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        TIMESTAMP.validate_json(f'"{text}"')


def test_dates_are_bounded_by_the_same_range() -> None:
    assert CALENDAR_DATE.validate_python(EARLIEST_DATE) == EARLIEST_DATE
    assert CALENDAR_DATE.validate_python(LATEST_DATE - timedelta(days=1)) == date(2199, 12, 31)
    for outside in (EARLIEST_DATE - timedelta(days=1), LATEST_DATE, date.min, date.max):
        with pytest.raises(ValidationError, match="a date from 1970-01-01 up to"):
            CALENDAR_DATE.validate_python(outside)


class Stored(BaseModel):
    at: StoredInstant
    on: StoredDate | None


def test_stored_values_read_as_datetimes_and_dates_when_they_are_ones_and_as_text_otherwise() -> None:
    held = Stored.model_validate({"at": datetime(1, 1, 1, tzinfo=UTC), "on": date.max})
    text = Stored.model_validate({"at": "+10000-01-01 13:59:59", "on": "infinity"})
    from_json = Stored.model_validate_json('{"at": "2024-01-01T00:00:00Z", "on": "2024-01-02"}')

    assert (held.at, held.on) == (datetime(1, 1, 1, tzinfo=UTC), date.max)
    assert (text.at, text.on) == ("+10000-01-01 13:59:59", "infinity")
    assert (from_json.at, from_json.on) == (datetime(2024, 1, 1, tzinfo=UTC), date(2024, 1, 2))
    assert text.model_dump(mode="json") == {"at": "+10000-01-01 13:59:59", "on": "infinity"}
    assert held.model_dump(mode="json") == {"at": "0001-01-01T00:00:00Z", "on": "9999-12-31"}

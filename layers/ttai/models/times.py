"""Instants and dates every part of the stack can hold: bounded types for what comes in, tolerant ones for what
was stored.

Python accepts years 1-9999 with offsets of up to a day, PostgreSQL's timestamptz years 4713 BC-294276 AD (and
infinity), PostgreSQL's offsets up to 15:59, and JSON readers in other languages often far less. A value at either
end of Python's range can still overflow when normalised to UTC (``0001-01-01T00:00:00+14:00`` is a BC instant),
so the house range is narrower than all of them: from the Unix epoch to the start of 2200, UTC. Input outside it
is refused at the edge (a 422) before a statement runs: ``Timestamp`` for instants, ``CalendarDate`` for dates.

What was stored is another matter: a row written before these checks, or by hand, can hold anything PostgreSQL
takes. The D1 binding decodes a timestamp or date Python cannot hold (BC, after 9999, ±infinity) as the Data API's
text for it (``ttai.bindings.d1.decode_field``), so output models type stored values as ``StoredInstant`` and
``StoredDate``: a datetime or date when there is one, else that text, shown to the caller as it is. Such a value
is never clamped to a date it is not, and never fails the read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive
EARLIEST_DATE = EARLIEST.date()
LATEST_DATE = LATEST.date()  # exclusive


def in_range(value: datetime) -> datetime:
    """``value`` (time-zone aware) if its instant lies in [EARLIEST, LATEST), else ValueError saying the range."""
    try:
        instant = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # the offset pushes it past year 1 or 9999
        raise ValueError(_OUT_OF_RANGE) from exc
    if not EARLIEST <= instant < LATEST:
        raise ValueError(_OUT_OF_RANGE)
    return value


def date_in_range(value: date) -> date:
    """``value`` if it lies in [EARLIEST_DATE, LATEST_DATE), else ValueError saying the range."""
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise ValueError(_DATE_OUT_OF_RANGE)
    return value


_OUT_OF_RANGE = f"an instant from {EARLIEST.isoformat()} up to (not including) {LATEST.isoformat()}"
_DATE_OUT_OF_RANGE = f"a date from {EARLIEST_DATE.isoformat()} up to (not including) {LATEST_DATE.isoformat()}"

# What models take: an ISO 8601 instant with a time zone, within the house range. The offset given is kept, so
# code that hands one to PostgreSQL as text (inside a JSON document, say) converts it to UTC first: PostgreSQL
# refuses offsets past 15:59, which ISO 8601 (and pydantic) allow up to 23:59.
Timestamp = Annotated[AwareDatetime, AfterValidator(in_range)]
# What models take for a calendar date (YYYY-MM-DD): within the same range.
CalendarDate = Annotated[date, AfterValidator(date_in_range)]

# What output models give for a stored value: tried as a datetime (or date) first, else kept as the text the
# database returned for it. left_to_right, so a value that is a datetime is always read as one.
StoredInstant = Annotated[
    datetime | str,
    Field(
        union_mode="left_to_right",
        description="an ISO 8601 instant; a stored value no datetime can hold (before year 1, after 9999, "
        "infinity) comes as the database's text for it",
    ),
]
StoredDate = Annotated[
    date | str,
    Field(
        union_mode="left_to_right",
        description="an ISO 8601 date; a stored value no date can hold (before year 1, after 9999, infinity) "
        "comes as the database's text for it",
    ),
]

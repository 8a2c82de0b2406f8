"""Instants every part of the stack can hold: one bounded datetime type for the models, one range for the rest.

Python accepts years 1-9999 with offsets of up to a day, PostgreSQL's timestamptz years 4713 BC-294276 AD, and
JSON readers in other languages often far less. A value at either end of Python's range can still overflow when
normalised to UTC (``0001-01-01T00:00:00+14:00`` is a BC instant), so the house range is narrower than all of
them: from the Unix epoch to the start of 2200, UTC. Anything outside is refused at the edge (a 422) before a
statement runs, and every stored instant can be read back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive


def in_range(value: datetime) -> datetime:
    """``value`` (time-zone aware) if its instant lies in [EARLIEST, LATEST), else ValueError saying the range."""
    try:
        instant = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # the offset pushes it past year 1 or 9999
        raise ValueError(_OUT_OF_RANGE) from exc
    if not EARLIEST <= instant < LATEST:
        raise ValueError(_OUT_OF_RANGE)
    return value


_OUT_OF_RANGE = f"an instant from {EARLIEST.isoformat()} up to (not including) {LATEST.isoformat()}"

# What models take: an ISO 8601 instant with a time zone, within the house range. The offset given is kept.
Timestamp = Annotated[AwareDatetime, AfterValidator(in_range)]

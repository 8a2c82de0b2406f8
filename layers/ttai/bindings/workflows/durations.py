"""Cloudflare's WorkflowDuration: a number of milliseconds or ``"<number> <unit>"``, as Workers accept them.

Python callers may also pass a ``timedelta``. Units are those Cloudflare's ``ms()`` reads (a month is 30 days,
a year 365); anything else is a ``ValueError`` that names the accepted forms.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

_UNIT_MS = {
    "ms": 1,
    "millisecond": 1,
    "s": 1_000,
    "sec": 1_000,
    "second": 1_000,
    "m": 60_000,
    "min": 60_000,
    "minute": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "hour": 3_600_000,
    "d": 86_400_000,
    "day": 86_400_000,
    "w": 604_800_000,
    "week": 604_800_000,
    "month": 2_592_000_000,
    "y": 31_536_000_000,
    "year": 31_536_000_000,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)?\s*$")

Duration = int | float | str | timedelta


def to_milliseconds(value: Duration, what: str = "duration") -> int:
    """Milliseconds in ``value`` (rounded up); a bare number is milliseconds, as in Cloudflare's API."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be milliseconds, a timedelta or a string like '10 seconds', not a boolean")
    if isinstance(value, timedelta):
        milliseconds = value.total_seconds() * 1000
    elif isinstance(value, int | float):
        milliseconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        unit = (match.group(2) or "ms").lower() if match else ""
        singular = unit if unit in _UNIT_MS else unit.removesuffix("s")
        if not match or singular not in _UNIT_MS:
            raise ValueError(
                f"{what} {value!r} is not '<number> <unit>' with a unit of ms, seconds, minutes, hours, "
                "days, weeks, months or years"
            )
        milliseconds = float(match.group(1)) * _UNIT_MS[singular]
    else:
        raise ValueError(
            f"{what} must be milliseconds, a timedelta or a string like '10 seconds', not {type(value).__name__}"
        )
    if not math.isfinite(milliseconds) or milliseconds < 0:
        raise ValueError(f"{what} must be a finite, non-negative duration")
    return math.ceil(milliseconds)


def whole_seconds(milliseconds: int) -> int:
    """Lambda durable functions wait and back off in whole seconds: a fraction of one rounds up, never down."""
    return math.ceil(milliseconds / 1000)

"""How the Data API prints PostgreSQL's dates and timestamps: through Java, not as PostgreSQL prints them.

The service reads a value with PostgreSQL's JDBC driver and prints the instant it gets in ISO form, so its text
differs from PostgreSQL's wherever the two calendars or the two notations part:

- years after 9999 carry a sign (``+10000-01-01 00:00:00``) and BC years are astronomical, signed and padded to
  four digits (1 BC is ``0000``, 44 BC is ``-0043``), where PostgreSQL prints ``10000-...`` and ``0044-... BC``;
- ``infinity`` and ``-infinity`` arrive as the instants the driver stands in for them,
  ``+292278994-08-16 23:00:00`` and ``-292275055-05-16 23:00:00`` (knex-data-api-client documents exactly these
  for timestamptz columns read through the service, and parses them back into infinities);
- the driver fills a ``java.util`` calendar, which counts days before 1582-10-15 in the Julian calendar, with the
  fields PostgreSQL gives (proleptic Gregorian), and the instant is then printed in the proleptic Gregorian
  calendar: a value before the reform comes back shifted by the calendars' difference (-2 days in 44 BC, +10 at
  the reform itself).

Dates are printed the same way, without the time. Only the infinity stand-ins were observed on the service; the
rest follows from the driver and Java's ISO printing, and the local endpoint does the same so that code reading
such values meets them in tests first.
"""

from __future__ import annotations

import re

INFINITY_STAND_INS = {
    "infinity": ("+292278994-08-16", " 23:00:00"),
    "-infinity": ("-292275055-05-16", " 23:00:00"),
}
# PostgreSQL's output with DateStyle ISO and TimeZone UTC: a date, an optional time, "+00" for timestamptz, " BC".
_POSTGRES_VALUE = re.compile(
    r"(?P<year>\d{4,})-(?P<month>\d{2})-(?P<day>\d{2})(?P<time> \d{2}:\d{2}:\d{2}(?:\.\d+)?)?(?:\+00)?(?P<bc> BC)?"
)
_GREGORIAN_REFORM = (1582, 10, 15)  # the first Gregorian day of java.util.GregorianCalendar


def data_api_datetime(text: str, *, with_time: bool) -> str:
    """PostgreSQL's text for a date (``with_time`` False) or a timestamp[tz] as the Data API returns it."""
    if text in INFINITY_STAND_INS:
        stand_in, clock = INFINITY_STAND_INS[text]
        return stand_in + clock if with_time else stand_in
    match = _POSTGRES_VALUE.fullmatch(text)
    if match is None:  # a DateStyle or zone this endpoint never sets
        raise ValueError(f"not PostgreSQL's ISO output for a date or timestamp: {text!r}")
    year = int(match["year"])
    if match["bc"]:
        year = 1 - year  # astronomical numbering: 1 BC is year 0
    month, day = int(match["month"]), int(match["day"])
    if (year, month, day) < _GREGORIAN_REFORM:
        year, month, day = _gregorian(_julian_day_number(year, month, day))
    return _iso_year(year) + f"-{month:02d}-{day:02d}" + (match["time"] or "")


def _julian_day_number(year: int, month: int, day: int) -> int:
    """The Julian Day Number of a date of the Julian calendar (astronomical years)."""
    shift = (14 - month) // 12
    y, m = year + 4800 - shift, month + 12 * shift - 3
    return day + (153 * m + 2) // 5 + 365 * y + y // 4 - 32083


def _gregorian(day_number: int) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) of a Julian Day Number."""
    a = day_number + 32044
    b = (4 * a + 3) // 146097
    c = a - 146097 * b // 4
    d = (4 * c + 3) // 1461
    e = c - 1461 * d // 4
    m = (5 * e + 2) // 153
    return 100 * b + d - 4800 + m // 10, m + 3 - 12 * (m // 10), e - (153 * m + 2) // 5 + 1


def _iso_year(year: int) -> str:
    """Java's ISO year: four digits at least, a sign when negative or past 9999."""
    if year > 9999:
        return f"+{year}"
    if year < 0:
        return f"-{-year:04d}"
    return f"{year:04d}"

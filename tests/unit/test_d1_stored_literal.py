"""What the D1 binding reads back as text (a timestamp or date Python cannot hold) turns back into PostgreSQL's
literal for the very value stored, so a cursor can carry it to the next page."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.data_api.times import data_api_datetime
from ttai.bindings.d1 import stored_literal


@pytest.mark.parametrize(
    ("stored", "with_time"),
    [
        ("infinity", True),
        ("-infinity", False),
        ("0044-03-15 12:00:00+00 BC", True),
        ("0001-12-31 10:00:00+00 BC", True),
        ("10000-01-01 13:59:59+00", True),
        ("294276-12-31 23:59:59.999999+00", True),  # PostgreSQL's last instant
        ("4714-11-24 00:00:00+00 BC", True),  # and its first
        ("0044-03-15 BC", False),
        ("0001-02-29 BC", False),  # 1 BC is a leap year
        ("0001-01-01", False),  # AD 1, which the Julian reading prints in year 0
        ("5874897-12-31", False),
    ],
)
def test_the_data_apis_text_for_a_stored_value_gives_back_its_literal(stored: str, with_time: bool) -> None:
    text = stored if stored.endswith("infinity") else data_api_datetime(stored, with_time=with_time)
    assert stored_literal(text, with_time=with_time) == stored


@pytest.mark.parametrize(
    ("text", "with_time"),
    [
        ("2026-01-02", False),  # Python holds it: the binding never keeps it as text
        ("2026-01-02 03:04:05", True),
        ("+10000-01-01", True),  # a date where a timestamp was stored
        ("+10000-01-01 00:00:00", False),
        ("+10000-02-30", False),
        ("+10000-13-01", False),
        ("+10000-01-01 24:00:00", True),
        ("-4714-01-01", False),  # before PostgreSQL's first day
        ("+294277-01-01 00:00:00", True),  # after its last instant
        ("Infinity", False),
        ("+10000-01-01\n", False),
        ("", False),
    ],
)
def test_any_other_text_is_a_value_error(text: str, with_time: bool) -> None:
    with pytest.raises(ValueError, match=r"."):
        stored_literal(text, with_time=with_time)


@settings(max_examples=300, deadline=None)
@given(
    year=st.integers(-4712, 294276).filter(lambda y: not 1 <= y <= 9999),
    month=st.integers(1, 12),
    day=st.integers(1, 28),
    clock=st.none() | st.times().map(lambda t: t.isoformat()),
)
def test_every_stored_value_outside_pythons_years_round_trips(
    year: int, month: int, day: int, clock: str | None
) -> None:
    era = f"{year:04d}" if year >= 1 else f"{1 - year:04d}"
    stored = f"{era}-{month:02d}-{day:02d}" + (f" {clock}+00" if clock else "") + (" BC" if year < 1 else "")
    with_time = clock is not None
    assert stored_literal(data_api_datetime(stored, with_time=with_time), with_time=with_time) == stored

"""Instants and dates at the edge: the house range (1970 up to 2200, UTC) is a 422 naming the field outside it,
nothing written, and a round trip inside it, whatever year, offset or zone a client sends."""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from local.stack import LocalStack
from tests.integration.conftest import user_id
from ttai.models.times import EARLIEST, EARLIEST_DATE, LATEST, LATEST_DATE

# Modest counts: every example is a request through the authorizer and the api function.
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_SYMBOLS = itertools.count()


def fresh_symbol() -> str:
    """A ticker no other example used (Q + five letters), so what one example writes is told apart."""
    number, letters = next(_SYMBOLS), []
    for _ in range(5):
        number, digit = divmod(number, 26)
        letters.append(string.ascii_uppercase[digit])
    return "Q" + "".join(letters)


def rows(stack: LocalStack, sql: str, *params: Any) -> int:
    count: int = stack.env.DB.prepare(f"SELECT count(*) AS n FROM {sql}").bind(*params).first("n")
    return count


@pytest.fixture(scope="module")
def user(stack: LocalStack) -> tuple[str, str]:
    token = stack.token_for("time-range-user")
    return token, user_id(stack, token)


@pytest.fixture(scope="module")
def service(stack: LocalStack) -> str:
    return stack.token_for("time-range-feed", scopes=("service",))


# ------------------------------------------------------------------ the request from the issue


@pytest.mark.parametrize("opened_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_an_opening_instant_past_either_end_is_a_422_naming_it_and_nothing_is_written(
    stack: LocalStack, user: tuple[str, str], opened_at: str
) -> None:
    token, uid = user
    position = {"symbol": fresh_symbol(), "quantity": 1, "average_cost": 1, "position_type": "stock"}
    before = (rows(stack, "positions WHERE user_id = ?", uid), rows(stack, "audit_events WHERE user_id = ?", uid))

    status, _, body = stack.http(
        "PUT", "/api/v1/positions", token=token, json={"positions": [{**position, "opened_at": opened_at}]}
    )

    assert status == 422, body
    assert [f["field"] for f in body["error"]["fields"]] == ["body.positions.0.opened_at"]
    assert "from 1970-01-01T00:00:00+00:00 up to (not including) 2200-01-01T00:00:00+00:00" in str(body)
    after = (rows(stack, "positions WHERE user_id = ?", uid), rows(stack, "audit_events WHERE user_id = ?", uid))
    assert after == before
    status, _, page = stack.http("GET", "/api/v1/positions", token=token, query={"status": "all"})
    assert status == 200
    assert position["symbol"] not in [p["symbol"] for p in page["items"]]


def test_an_offset_postgresql_refuses_is_stored_as_its_instant_in_utc(stack: LocalStack, user: tuple[str, str]) -> None:
    # ISO 8601 allows offsets up to 23:59, PostgreSQL up to 15:59: the sync hands it the instant in UTC.
    token, _ = user
    position = {"symbol": fresh_symbol(), "quantity": 1, "average_cost": 1, "position_type": "stock"}

    status, _, body = stack.http(
        "PUT",
        "/api/v1/positions",
        token=token,
        json={"positions": [{**position, "opened_at": "2024-01-02T03:04:05+23:59"}]},
    )

    assert status == 200, body
    assert body["positions"][0]["opened_at"] == "2024-01-01T03:05:05Z"


# ------------------------------------------------------------------ every year, offset and zone


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# Zones: none (a naive time), Z, or any offset pydantic reads (up to 23:59 either way).
_ZONES = st.one_of(st.none(), st.just("Z"), st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(_offset_text))
# Wall-clock times (naive: the zone is drawn apart) across Python's whole range, and near the two ends of the
# house range, where the offset decides.
_CLOCKS = st.one_of(
    st.datetimes(),  # years 1 to 9999
    st.datetimes(
        min_value=EARLIEST.replace(tzinfo=None) - timedelta(days=2),
        max_value=EARLIEST.replace(tzinfo=None) + timedelta(days=2),
    ),
    st.datetimes(
        min_value=LATEST.replace(tzinfo=None) - timedelta(days=2),
        max_value=LATEST.replace(tzinfo=None) + timedelta(days=2),
    ),
)
_DAYS = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.dates(min_value=EARLIEST_DATE - timedelta(days=3), max_value=EARLIEST_DATE + timedelta(days=3)),
    st.dates(min_value=LATEST_DATE - timedelta(days=3), max_value=LATEST_DATE + timedelta(days=3)),
)


def _instant(clock: datetime, zone: str | None) -> tuple[str, datetime | None]:
    """The text a client sends, and the instant the API should keep (None: a 422 is the right answer)."""
    text = clock.isoformat() + (zone or "")
    if zone is None:
        return text, None  # naive: which instant it means is unknowable
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        return text, None
    return text, instant if EARLIEST <= instant < LATEST else None


def _read_back(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _sync_position(
    stack: LocalStack, user: tuple[str, str], _service: str, text: str
) -> tuple[int, Any, Callable[[], Any]]:
    token, uid = user
    symbol = fresh_symbol()
    position = {"symbol": symbol, "quantity": 1, "average_cost": 1, "position_type": "stock", "opened_at": text}
    status, _, body = stack.http("PUT", "/api/v1/positions", token=token, json={"positions": [position]})
    read = body["positions"][0]["opened_at"] if status == 200 else None
    return status, read, lambda: rows(stack, "positions WHERE user_id = ? AND symbol = ?", uid, symbol)


def _ingest_quote(
    stack: LocalStack, user: tuple[str, str], service: str, text: str
) -> tuple[int, Any, Callable[[], Any]]:
    token, _ = user
    symbol = fresh_symbol()
    quote = {"symbol": symbol, "last": 1.5, "updated_at": text}
    status, _, _ = stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": [quote]})
    read_status, _, read = stack.http("GET", f"/api/v1/quotes/{symbol}", token=token)
    return status, read.get("updated_at") if read_status == 200 else None, lambda: read_status == 200


INSTANT_FIELDS = {"positions.opened_at": _sync_position, "quotes.updated_at": _ingest_quote}


@PROPERTY
@given(field=st.sampled_from(sorted(INSTANT_FIELDS)), clock=_CLOCKS, zone=_ZONES)
def test_any_instant_is_kept_inside_the_range_and_refused_outside_it_never_a_5xx(
    stack: LocalStack, user: tuple[str, str], service: str, field: str, clock: datetime, zone: str | None
) -> None:
    text, expected = _instant(clock, zone)
    event("kept" if expected else "refused")  # --hypothesis-show-statistics shows the mix

    status, read, written = INSTANT_FIELDS[field](stack, user, service, text)

    assert status < 500, (field, text)
    if expected is None:
        assert status == 422, (field, text, status)
        assert not written(), (field, text)
    else:
        assert status == 200, (field, text, status)
        assert written(), (field, text)
        assert _read_back(read) == expected, (field, text, read)


def _journal_entry(
    stack: LocalStack, user: tuple[str, str], _service: str, day: date
) -> tuple[int, Any, Callable[[], Any]]:
    token, uid = user
    symbol = fresh_symbol()
    body = {
        "symbol": symbol,
        "strategy": "long stock",
        "legs": [{"type": "stock", "side": "buy"}],
        "entry_date": day.isoformat(),
        "entry_price": 10,
    }
    status, _, reply = stack.http("POST", "/api/v1/journal", token=token, json=body)
    read = reply["entry_date"] if status == 201 else None
    return status, read, lambda: rows(stack, "trade_journal WHERE user_id = ? AND symbol = ?", uid, symbol)


def _option_leg(
    stack: LocalStack, user: tuple[str, str], _service: str, day: date
) -> tuple[int, Any, Callable[[], Any]]:
    token, uid = user
    symbol = fresh_symbol()
    leg = {"type": "call", "side": "buy", "strike": 100, "expiration": day.isoformat()}
    body = {"symbol": symbol, "strategy": "long call", "legs": [leg], "entry_date": "2025-01-02", "entry_price": 1}
    status, _, reply = stack.http("POST", "/api/v1/journal", token=token, json=body)
    read = reply["legs"][0]["expiration"] if status == 201 else None
    return status, read, lambda: rows(stack, "trade_journal WHERE user_id = ? AND symbol = ?", uid, symbol)


def _option_position(
    stack: LocalStack, user: tuple[str, str], _service: str, day: date
) -> tuple[int, Any, Callable[[], Any]]:
    token, uid = user
    symbol = fresh_symbol()
    position = {
        "symbol": symbol,
        "quantity": 1,
        "average_cost": 1,
        "position_type": "option",
        "option_type": "put",
        "strike": 10,
        "expiration": day.isoformat(),
    }
    status, _, reply = stack.http("PUT", "/api/v1/positions", token=token, json={"positions": [position]})
    read = reply["positions"][0]["expiration"] if status == 200 else None
    return status, read, lambda: rows(stack, "positions WHERE user_id = ? AND symbol = ?", uid, symbol)


def _bar(stack: LocalStack, user: tuple[str, str], service: str, day: date) -> tuple[int, Any, Callable[[], Any]]:
    symbol = fresh_symbol()
    bar = {"symbol": symbol, "date": day.isoformat(), "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}
    status, _, _ = stack.http("PUT", "/api/v1/bars", token=service, json={"bars": [bar]})
    stored = stack.env.DB.prepare("SELECT date FROM bars WHERE symbol = ?").bind(symbol).first("date")
    return status, stored.isoformat() if stored else None, lambda: stored is not None


def _journal_filter(
    stack: LocalStack, user: tuple[str, str], _service: str, day: date
) -> tuple[int, Any, Callable[[], Any]]:
    status, _, _ = stack.http("GET", "/api/v1/journal", token=user[0], query={"from": day.isoformat()})
    return status, day.isoformat() if status == 200 else None, lambda: status == 200


def _job_filter(
    stack: LocalStack, user: tuple[str, str], _service: str, day: date
) -> tuple[int, Any, Callable[[], Any]]:
    status, _, _ = stack.http("GET", "/api/v1/jobs/history", token=user[0], query={"end_date": day.isoformat()})
    return status, day.isoformat() if status == 200 else None, lambda: status == 200


DATE_FIELDS = {
    "journal.entry_date": _journal_entry,
    "journal.legs.expiration": _option_leg,
    "positions.expiration": _option_position,
    "bars.date": _bar,
    "journal?from": _journal_filter,
    "jobs/history?end_date": _job_filter,
}


@PROPERTY
@given(field=st.sampled_from(sorted(DATE_FIELDS)), day=_DAYS)
def test_any_date_is_kept_inside_the_range_and_refused_outside_it_never_a_5xx(
    stack: LocalStack, user: tuple[str, str], service: str, field: str, day: date
) -> None:
    allowed = EARLIEST_DATE <= day < LATEST_DATE
    if field == "bars.date":  # bars also refuse days after tomorrow
        allowed = allowed and day <= datetime.now(UTC).date() + timedelta(days=1)
    event("kept" if allowed else "refused")

    status, read, written = DATE_FIELDS[field](stack, user, service, day)

    assert status < 500, (field, day)
    if allowed:
        assert 200 <= status < 300, (field, day, status)
        assert written(), (field, day)
        assert read == day.isoformat(), (field, day, read)
    else:
        assert status == 422, (field, day, status)
        assert not written(), (field, day)


def test_a_quote_keeps_the_offset_it_was_observed_in(stack: LocalStack, user: tuple[str, str], service: str) -> None:
    symbol = fresh_symbol()
    quote = {"symbol": symbol, "last": 1.5, "updated_at": "2024-06-01T09:30:00-04:00"}

    assert stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": [quote]})[0] == 200

    assert stack.http("GET", f"/api/v1/quotes/{symbol}", token=user[0])[2]["updated_at"] == "2024-06-01T09:30:00-04:00"


def test_a_naive_time_names_the_field_that_needs_a_zone(stack: LocalStack, user: tuple[str, str]) -> None:
    position = {"symbol": fresh_symbol(), "quantity": 1, "average_cost": 1, "position_type": "stock"}
    body = {"positions": [{**position, "opened_at": "2024-01-01T00:00:00"}]}

    status, _, reply = stack.http("PUT", "/api/v1/positions", token=user[0], json=body)

    assert status == 422
    assert reply["error"]["fields"][0]["field"] == "body.positions.0.opened_at"
    assert "timezone" in reply["error"]["fields"][0]["message"]

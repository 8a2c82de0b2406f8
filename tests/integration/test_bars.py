"""PUT /api/v1/bars: service scope, validated bodies, upserts one row per symbol and day."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest

from local.stack import LocalStack
from ttai.models.bars import MAX_BARS_PER_REQUEST


def _symbol() -> str:
    return "B" + "".join(random.choices(string.ascii_uppercase, k=4))


def _bar(symbol: str, day: str, close: float = 10.0, **changes: Any) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "date": day,
        "open": close,
        "high": close + 1,
        "low": close - 1,
        "close": close,
        "volume": 100,
        **changes,
    }


def _stored(stack: LocalStack, symbol: str) -> list[dict[str, Any]]:
    return stack.env.DB.prepare("SELECT * FROM bars WHERE symbol = ? ORDER BY date").bind(symbol).all().results


@pytest.fixture(scope="module")
def service(stack: LocalStack) -> str:
    return stack.token_for("bars-feed", scopes=("service",))


def test_bars_are_stored_and_replaced_per_day(stack: LocalStack, service: str) -> None:
    symbol = _symbol()
    body = {"bars": [_bar(symbol, "2026-03-05"), _bar(symbol.lower(), "2026-03-06", 11.0)], "source": "feed"}

    status, _, reply = stack.http("PUT", "/api/v1/bars", token=service, json=body)
    assert (status, reply) == (200, {"stored": 2})
    status, _, reply = stack.http(
        "PUT", "/api/v1/bars", token=service, json={"bars": [_bar(symbol, "2026-03-06", 12.5)]}
    )
    assert (status, reply) == (200, {"stored": 1})

    rows = _stored(stack, symbol)
    assert [(r["date"].isoformat(), float(r["close"]), r["source"]) for r in rows] == [
        ("2026-03-05", 10.0, "feed"),
        ("2026-03-06", 12.5, "feed"),
    ]


def test_a_user_without_the_service_scope_is_refused(stack: LocalStack, alice: str) -> None:
    symbol = _symbol()
    status, _, reply = stack.http("PUT", "/api/v1/bars", token=alice, json={"bars": [_bar(symbol, "2026-03-05")]})
    assert status == 403
    assert reply["error"]["code"] == "forbidden"
    assert _stored(stack, symbol) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"open": 12.0}, "open and close must lie between low and high"),
        ({"low": 12.0, "high": 11.0}, "below low"),
        ({"close": 0}, "greater than 0"),
        ({"volume": -1}, "greater than or equal to 0"),
        ({"date": "2150-01-01"}, "cannot be dated after"),
        ({"date": "1969-12-31"}, "a date from 1970-01-01"),
        ({"symbol": "not a symbol"}, "is not a ticker"),
    ],
)
def test_an_invalid_bar_is_a_422_and_nothing_is_written(
    stack: LocalStack, service: str, change: dict[str, Any], expected: str
) -> None:
    symbol = _symbol()
    body = {"bars": [_bar(symbol, "2026-03-04"), {**_bar(symbol, "2026-03-05"), **change}]}
    status, _, reply = stack.http("PUT", "/api/v1/bars", token=service, json=body)
    assert status == 422, reply
    assert expected in str(reply["error"]["fields"])
    assert _stored(stack, symbol) == []


def test_batch_limits(stack: LocalStack, service: str) -> None:
    symbol = _symbol()
    duplicate = {"bars": [_bar(symbol, "2026-03-05"), _bar(symbol, "2026-03-05", 11.0)]}
    status, _, reply = stack.http("PUT", "/api/v1/bars", token=service, json=duplicate)
    assert status == 422
    assert "both" in str(reply["error"]["fields"])
    too_many = {"bars": [_bar(symbol, "2020-01-01")] * (MAX_BARS_PER_REQUEST + 1)}
    assert stack.http("PUT", "/api/v1/bars", token=service, json=too_many)[0] == 422
    assert stack.http("PUT", "/api/v1/bars", token=service, json={"bars": []})[0] == 422
    bad_source = {"bars": [_bar(symbol, "2026-03-05")], "source": "Robert'); DROP TABLE bars;--"}
    assert stack.http("PUT", "/api/v1/bars", token=service, json=bad_source)[0] == 422
    assert _stored(stack, symbol) == []

"""/api/v1/journal end to end: entries recorded and closed with a pnl we compute, audited, private to their user."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.conftest import user_id

STOCK = [{"type": "stock", "side": "buy"}]
SHORT_PUT = [{"type": "put", "side": "sell", "strike": 95, "expiration": "2025-04-17"}]
PUT_CREDIT_SPREAD = [
    {"type": "put", "side": "sell", "strike": 95, "expiration": "2025-04-17"},
    {"type": "put", "side": "buy", "strike": 90, "expiration": "2025-04-17"},
]


def entry(**body: Any) -> dict[str, Any]:
    return {
        "symbol": "AAPL",
        "strategy": "long stock",
        "legs": STOCK,
        "quantity": 10,
        "entry_date": "2025-03-03",
        "entry_price": 100,
        **body,
    }


def create(stack: LocalStack, token: str, **body: Any) -> Any:
    return stack.http("POST", "/api/v1/journal", token=token, json=entry(**body))


def close(stack: LocalStack, token: str, entry_id: int, exit_price: Any, exit_date: str = "2025-03-20") -> Any:
    body = {"exit_price": exit_price, "exit_date": exit_date}
    return stack.http("PATCH", f"/api/v1/journal/{entry_id}", token=token, json=body)


def analysis_of(stack: LocalStack, owner: str) -> int:
    analysis_id: int = (
        stack.env.DB.prepare(
            "INSERT INTO analyses (user_id, symbol, type, result) VALUES (?, 'AAPL', 'full', ?) RETURNING id"
        )
        .bind(owner, {"verdict": "select"})
        .first("id")
    )
    return analysis_id


def test_long_stock_bought_at_100_and_sold_at_110_makes_100(stack: LocalStack, alice: str) -> None:
    status, _, opened = create(stack, alice, symbol="aapl", notes="breakout")
    assert status == 201, opened
    assert (opened["symbol"], opened["direction"], opened["pnl"], opened["exit_date"]) == ("AAPL", "long", None, None)
    assert Decimal(opened["entry_price"]) == 100
    status, _, closed = close(stack, alice, opened["id"], 110)
    assert status == 200, closed
    assert (closed["pnl"], closed["pnl_percent"]) == ("100.00", "10.00")  # 10 x (110 - 100); 100 / 1000
    assert (closed["exit_date"], Decimal(closed["exit_price"])) == ("2025-03-20", Decimal(110))


def test_a_short_put_sold_for_2_50_and_bought_back_at_1_makes_150(stack: LocalStack, alice: str) -> None:
    opened = create(stack, alice, strategy="csp", legs=SHORT_PUT, quantity=1, entry_price=2.50).body
    assert opened["direction"] == "short"  # implied by its one sold leg
    closed = close(stack, alice, opened["id"], "1.00").body
    assert (closed["pnl"], closed["pnl_percent"]) == ("150.00", "60.00")  # (2.50 - 1.00) x 1 x 100; 150 / 250


def test_a_credit_spread_states_its_direction_and_loses_when_it_widens(stack: LocalStack, alice: str) -> None:
    body = entry(strategy="put credit spread", legs=PUT_CREDIT_SPREAD, quantity=3, entry_price="1.25")
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("POST", "/api/v1/journal", token=alice, json=body)
    assert (status, calls.total) == (422, 0)
    assert [f["field"] for f in response["error"]["fields"]] == ["body.direction"]
    opened = create(stack, alice, **{**body, "direction": "short"}).body
    closed = close(stack, alice, opened["id"], "3.40").body
    # (1.25 - 3.40) x 3 x 100 = -645.00, against a credit of 375.00: -172.00 %
    assert (closed["pnl"], closed["pnl_percent"]) == ("-645.00", "-172.00")


def test_a_free_entry_has_a_pnl_but_no_percent(stack: LocalStack, alice: str) -> None:
    opened = create(stack, alice, strategy="spin-off shares", entry_price=0).body
    closed = close(stack, alice, opened["id"], "12.3456").body
    assert (closed["pnl"], closed["pnl_percent"]) == ("123.46", None)  # 10 x 12.3456, rounded half up to cents


def test_closing_twice_is_a_conflict_and_keeps_the_first_close(stack: LocalStack, alice: str) -> None:
    entry_id = create(stack, alice).body["id"]
    assert close(stack, alice, entry_id, 110).status == 200
    status, _, body = close(stack, alice, entry_id, 90, "2025-03-21")
    assert (status, body["error"]["message"]) == (409, f"journal entry {entry_id} was closed on 2025-03-20")
    (kept,) = stack.http("GET", "/api/v1/journal", token=alice).body["items"]
    assert (kept["pnl"], kept["exit_date"]) == ("100.00", "2025-03-20")


def test_an_exit_before_the_entry_is_a_422_and_changes_nothing(stack: LocalStack, alice: str) -> None:
    entry_id = create(stack, alice).body["id"]
    status, _, body = close(stack, alice, entry_id, 110, "2025-03-02")
    assert status == 422
    assert [f["field"] for f in body["error"]["fields"]] == ["body.exit_date"]
    assert close(stack, alice, entry_id, 110, "2025-03-03").status == 200  # same-day exits are fine


def test_creating_and_closing_are_audited_with_the_request(stack: LocalStack, alice: str) -> None:
    entry_id = create(stack, alice).body["id"]
    close(stack, alice, entry_id, 110)
    close(stack, alice, entry_id, 120)  # refused: no second audit event
    events = (
        stack.env.DB.prepare(
            "SELECT action, entity, entity_id, request_id FROM audit_events WHERE user_id = ? ORDER BY id"
        )
        .bind(user_id(stack, alice))
        .all()
        .results
    )
    assert [(e["action"], e["entity"], e["entity_id"]) for e in events] == [
        ("journal.create", "journal_entry", str(entry_id)),
        ("journal.close", "journal_entry", str(entry_id)),
    ]
    assert all(e["request_id"] for e in events)


def test_an_entry_links_only_to_the_callers_own_analysis(stack: LocalStack, alice: str, bob: str) -> None:
    mine = analysis_of(stack, user_id(stack, alice))
    theirs = analysis_of(stack, user_id(stack, bob))
    status, _, linked = create(stack, alice, analysis_id=mine)
    assert (status, linked["analysis_id"]) == (201, mine)
    for foreign in (theirs, 999_999_999):  # someone else's and a missing one read the same: nothing leaks
        status, _, body = create(stack, alice, analysis_id=foreign)
        assert status == 422
        assert body["error"]["fields"] == [
            {"field": "body.analysis_id", "message": f"no analysis with id {foreign}", "type": "value_error"}
        ]
    assert [e["id"] for e in stack.http("GET", "/api/v1/journal", token=alice).body["items"]] == [linked["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pnl": 100}, "body.pnl"),
        ({"pnl_percent": 10}, "body.pnl_percent"),
        ({"exit_price": 110}, "body.exit_price"),
        ({"user_id": "someone-else"}, "body.user_id"),
        ({"symbol": "NOT A SYMBOL"}, "body.symbol"),
        ({"strategy": "x" * 101}, "body.strategy"),
        ({"strategy": ""}, "body.strategy"),
        ({"notes": "x" * 10_001}, "body.notes"),
        ({"entry_price": -1}, "body.entry_price"),
        ({"entry_price": "ten"}, "body.entry_price"),
        ({"entry_price": 1.23456}, "body.entry_price"),
        ({"entry_price": 2_000_000}, "body.entry_price"),
        ({"quantity": 0}, "body.quantity"),
        ({"quantity": "many"}, "body.quantity"),
        ({"quantity": 1_000_000}, "body.quantity"),
        ({"entry_date": "2025-02-30"}, "body.entry_date"),
        ({"entry_date": "2025-03-03T10:00:00"}, "body.entry_date"),
        ({"legs": []}, "body.legs"),
        ({"legs": "stock"}, "body.legs"),
        ({"legs": [{"type": "future", "side": "buy"}]}, "body.legs.0.type"),
        ({"legs": [{"type": "stock", "side": "hold"}]}, "body.legs.0.side"),
        ({"legs": [{"type": "call", "side": "buy"}]}, "body.legs.0"),  # no strike or expiration
        ({"legs": [{"type": "stock", "side": "buy", "strike": 100}]}, "body.legs.0"),
        ({"legs": [{**SHORT_PUT[0], "strike": -5}]}, "body.legs.0.strike"),
        ({"legs": [{"type": "stock", "side": "buy", "extra": 1}]}, "body.legs.0.extra"),
        ({"legs": [*STOCK, {**SHORT_PUT[0], "type": "call"}]}, "body.legs"),  # stock and options mixed
        ({"legs": [STOCK[0]] * 9}, "body.legs"),
        ({"direction": "short"}, "body.direction"),  # a bought stock leg is long
        ({"direction": "sideways"}, "body.direction"),
        ({"analysis_id": "first"}, "body.analysis_id"),
        ({"analysis_id": 0}, "body.analysis_id"),
    ],
)
def test_bad_entries_are_a_422_naming_the_field_and_write_nothing(
    stack: LocalStack, alice: str, body: dict[str, Any], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("POST", "/api/v1/journal", token=alice, json=entry(**body))
    assert status == 422, response
    assert field in [f["field"] for f in response["error"]["fields"]], response
    assert calls.total == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"exit_price": 110, "exit_date": "2025-03-20", "pnl": 5}, "body.pnl"),
        ({"exit_price": 110, "exit_date": "2025-03-20", "pnl_percent": 5}, "body.pnl_percent"),
        ({"exit_price": -1, "exit_date": "2025-03-20"}, "body.exit_price"),
        ({"exit_price": 110}, "body.exit_date"),
        ({"exit_date": "2025-03-20"}, "body.exit_price"),
        ({"exit_price": 110, "exit_date": "soon"}, "body.exit_date"),
        ({"exit_price": 110, "exit_date": "2025-03-20", "user_id": "x"}, "body.user_id"),
    ],
)
def test_bad_closes_are_a_422_naming_the_field_and_write_nothing(
    stack: LocalStack, alice: str, body: dict[str, Any], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("PATCH", "/api/v1/journal/1", token=alice, json=body)
    assert status == 422, response
    assert field in [f["field"] for f in response["error"]["fields"]], response
    assert calls.total == 0


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/v1/journal"), ("PATCH", "/api/v1/journal/1")])
@pytest.mark.parametrize("number", ["NaN", "Infinity"])
def test_non_finite_prices_sent_as_raw_json_are_refused(
    stack: LocalStack, alice: str, method: str, path: str, number: str
) -> None:
    field = "entry_price" if method == "POST" else "exit_price"
    raw = (
        '{"symbol": "AAPL", "strategy": "s", "legs": [{"type": "stock", "side": "buy"}], "entry_date": "2025-03-03", '
        f'"entry_price": {number}}}'
        if method == "POST"
        else f'{{"exit_date": "2025-03-20", "exit_price": {number}}}'
    )
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http(
            method, path, token=alice, body=raw, headers={"content-type": "application/json"}
        )
    assert status == 422, response
    assert [f["field"] for f in response["error"]["fields"]] == [f"body.{field}"]
    assert calls.total == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-03-10", "to": "2025-03-01"}, "query.to"),
        ({"from": "yesterday"}, "query.from"),
        ({"to": "2025-13-01"}, "query.to"),
        ({"symbol": "NOT A SYMBOL"}, "query.symbol"),
        ({"limit": "0"}, "query.limit"),
    ],
)
def test_bad_list_queries_are_a_422_without_a_database_call(
    stack: LocalStack, alice: str, query: dict[str, str], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("GET", "/api/v1/journal", token=alice, query=query)
    assert status == 422, response
    assert [f["field"] for f in response["error"]["fields"]] == [field]
    assert calls.total == 0


def test_lists_filter_by_symbol_and_dates_and_page_by_entry_date_then_id(stack: LocalStack, alice: str) -> None:
    days = ["2025-03-05", "2025-03-01", "2025-03-05", "2025-03-03", "2025-03-05", "2025-02-27"]
    ids = [
        create(stack, alice, entry_date=d, symbol="MSFT" if i == 3 else "AAPL").body["id"] for i, d in enumerate(days)
    ]
    expected = [ids[4], ids[2], ids[0], ids[3], ids[1], ids[5]]  # entry_date desc, then id desc within a day
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = stack.http("GET", "/api/v1/journal", token=alice, query=query).body
        seen += [e["id"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (expected, 3)

    def listed(**query: str) -> list[int]:
        return [e["id"] for e in stack.http("GET", "/api/v1/journal", token=alice, query=query).body["items"]]

    assert listed(symbol="msft") == [ids[3]]
    assert listed(**{"from": "2025-03-01", "to": "2025-03-03"}) == [ids[3], ids[1]]
    assert listed(**{"from": "2025-03-05", "to": "2025-03-05", "limit": "1"}) == [ids[4]]
    assert listed(to="2025-02-28") == [ids[5]]
    assert stack.http("GET", "/api/v1/journal", token=alice, query={"cursor": "garbage"}).status == 400


def test_each_read_is_one_data_api_call(stack: LocalStack, alice: str) -> None:
    create(stack, alice)
    for query in ({}, {"symbol": "AAPL", "from": "2025-01-01", "to": "2025-12-31", "limit": "5"}):
        with CallCounter(stack.env.client("rds-data")) as calls:
            assert stack.http("GET", "/api/v1/journal", token=alice, query=query).status == 200
        assert calls.by_operation() == {"ExecuteStatement": 1}, query


def test_another_user_can_neither_list_nor_close_an_entry(stack: LocalStack, alice: str, bob: str) -> None:
    entry_id = create(stack, alice).body["id"]
    alice_id = user_id(stack, alice)
    assert close(stack, bob, entry_id, 110).status == 404
    for query in ({"user_id": alice_id}, {"symbol": "AAPL", "user_id": alice_id}, {"from": "2025-01-01"}):
        assert stack.http("GET", "/api/v1/journal", token=bob, query=query).body["items"] == []
    assert create(stack, bob, user_id=alice_id).status == 422
    (still,) = stack.http("GET", "/api/v1/journal", token=alice).body["items"]
    assert (still["id"], still["exit_date"], still["pnl"]) == (entry_id, None, None)

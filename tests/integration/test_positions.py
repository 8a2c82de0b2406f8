"""/api/v1/positions end to end: broker syncs upsert and close atomically, audited, cached copies dropped, per user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from tests.integration.conftest import user_id
from ttai.services import positions as positions_service
from ttai.services.cache import CacheKeys

STOCK = {"symbol": "AAPL", "quantity": 100, "average_cost": 187.25, "position_type": "stock"}
PUT = {
    "symbol": "SPY",
    "quantity": 2,
    "direction": "short",
    "average_cost": "3.45",
    "position_type": "option",
    "option_type": "put",
    "strike": 500,
    "expiration": "2025-01-17",
    "opened_at": "2024-12-02T14:30:00-05:00",
}


def sync(stack: LocalStack, token: str, *positions: dict[str, Any], full_sync: bool = False) -> Any:
    body = {"positions": list(positions), "full_sync": full_sync}
    return stack.http("PUT", "/api/v1/positions", token=token, json=body)


def listed(stack: LocalStack, token: str, **query: str) -> list[dict[str, Any]]:
    status, _, body = stack.http("GET", "/api/v1/positions", token=token, query=query)
    assert status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


def rows_of(stack: LocalStack, token: str) -> list[dict[str, Any]]:
    """Every position row of the user, open or closed, as the database holds it."""
    statement = stack.env.DB.prepare("SELECT symbol, quantity, status FROM positions WHERE user_id = ? ORDER BY id")
    return statement.bind(user_id(stack, token)).all().results


def stock(symbol: str, quantity: int = 10) -> dict[str, Any]:
    return {**STOCK, "symbol": symbol, "quantity": quantity}


def test_a_sync_stores_stock_and_option_positions_that_read_back(stack: LocalStack, alice: str) -> None:
    status, _, result = sync(stack, alice, {**STOCK, "symbol": "aapl"}, PUT)
    assert status == 200, result
    assert (result["upserted"], result["closed"]) == (2, 0)
    stock_row, option_row = result["positions"]
    assert stock_row["symbol"] == "AAPL"  # normalized
    assert (stock_row["direction"], stock_row["average_cost"], stock_row["status"]) == ("long", 187.25, "open")
    assert (stock_row["option_type"], stock_row["strike"], stock_row["expiration"]) == (None, None, None)
    assert (option_row["direction"], option_row["average_cost"], option_row["strike"]) == ("short", 3.45, 500)
    assert (option_row["option_type"], option_row["expiration"]) == ("put", "2025-01-17")
    assert datetime.fromisoformat(option_row["opened_at"]) == datetime(2024, 12, 2, 19, 30, tzinfo=UTC)
    assert stack.http("GET", f"/api/v1/positions/{option_row['id']}", token=alice).body == option_row
    assert listed(stack, alice) == result["positions"]


def test_resyncing_a_stock_keeps_one_open_row_with_the_new_quantity(stack: LocalStack, alice: str) -> None:
    # Seed 000's upsert duplicated this row: its NULL option fields never conflicted.
    first = sync(stack, alice, stock("MSFT", 100), PUT).body["positions"]
    second = sync(stack, alice, stock("MSFT", 150), {**PUT, "quantity": 5, "average_cost": 2}).body["positions"]
    assert [p["id"] for p in second] == [p["id"] for p in first]
    assert rows_of(stack, alice) == [
        {"symbol": "MSFT", "quantity": 150, "status": "open"},
        {"symbol": "SPY", "quantity": 5, "status": "open"},
    ]
    assert second[1]["average_cost"] == 2
    assert second[1]["opened_at"] == first[1]["opened_at"]  # kept when a later sync does not say
    assert second[0]["updated_at"] > first[0]["updated_at"]


def test_a_full_sync_closes_the_open_positions_it_leaves_out(stack: LocalStack, alice: str, clock: Clock) -> None:
    sync(stack, alice, stock("AAA"), stock("BBB"), PUT)
    clock.travel(60)
    status, _, result = sync(stack, alice, stock("AAA", 20), stock("DDD"), full_sync=True)
    assert status == 200, result
    assert (result["upserted"], result["closed"]) == (2, 2)
    assert [(p["symbol"], p["quantity"]) for p in listed(stack, alice)] == [("AAA", 20), ("DDD", 10)]
    closed = listed(stack, alice, status="closed")
    assert [p["symbol"] for p in closed] == ["BBB", "SPY"]
    assert {datetime.fromisoformat(p["closed_at"]) for p in closed} == {datetime.fromtimestamp(clock.now, UTC)}
    # A closed position stays as history; syncing it again opens a new one.
    sync(stack, alice, stock("BBB", 7))
    assert [p["symbol"] for p in listed(stack, alice, status="all")] == ["AAA", "BBB", "SPY", "DDD", "BBB"]
    assert sync(stack, alice, full_sync=True).body == {"positions": [], "upserted": 0, "closed": 3}
    assert listed(stack, alice) == []


def test_a_full_sync_is_one_transaction(stack: LocalStack, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sync(stack, alice, stock("KEEP", 1), stock("GONE", 1))
    # Make the closing statement break a CHECK (closed without closed_at) after the upsert has run.
    broken = positions_service._CLOSE_MISSING.replace("closed_at = ?3", "closed_at = NULLIF(?3, ?3)")
    monkeypatch.setattr(positions_service, "_CLOSE_MISSING", broken)
    status, _, body = sync(stack, alice, stock("KEEP", 99), stock("NEW"), full_sync=True)
    assert status == 409, body
    assert rows_of(stack, alice) == [
        {"symbol": "KEEP", "quantity": 1, "status": "open"},
        {"symbol": "GONE", "quantity": 1, "status": "open"},
    ]
    events = stack.env.DB.prepare(
        "SELECT count(*) AS n FROM audit_events WHERE user_id = ? AND action LIKE 'position.%'"
    )
    assert events.bind(user_id(stack, alice)).first("n") == 2  # the first sync's, none of the failed one's


def test_every_synced_and_closed_row_is_audited_with_its_request(stack: LocalStack, alice: str) -> None:
    first = sync(stack, alice, stock("AUD1"), stock("AUD2")).body["positions"]
    sync(stack, alice, stock("AUD1", 5), full_sync=True)
    events = (
        stack.env.DB.prepare(
            "SELECT action, entity, entity_id, request_id FROM audit_events WHERE user_id = ? ORDER BY id"
        )
        .bind(user_id(stack, alice))
        .all()
        .results
    )
    ids = [str(p["id"]) for p in first]
    assert sorted((e["action"], e["entity_id"]) for e in events) == [
        ("position.close", ids[1]),
        ("position.upsert", ids[0]),
        ("position.upsert", ids[0]),
        ("position.upsert", ids[1]),
    ]
    assert {e["entity"] for e in events} == {"position"}
    assert all(e["request_id"] for e in events)
    assert len({e["request_id"] for e in events}) == 2  # one per sync


def test_a_sync_drops_the_users_cached_positions(stack: LocalStack, alice: str) -> None:
    key = CacheKeys.positions(user_id(stack, alice))
    stack.env.KV.put(key, "[]", expiration_ttl=300)
    assert sync(stack, alice, stock("CASH")).body["upserted"] == 1
    assert stack.env.KV.get(key) is None
    stack.env.KV.put(key, "[]", expiration_ttl=300)
    assert sync(stack, alice, stock("CASH", -1)).status == 422
    assert stack.env.KV.get(key) == "[]"  # a refused sync changed nothing, so the cache stays


def test_a_sync_is_one_statement_and_a_full_sync_one_transaction(stack: LocalStack, alice: str) -> None:
    many = [stock(f"S{i}", i) for i in range(500)]
    with CallCounter(stack.env.client("rds-data")) as calls:
        assert sync(stack, alice, *many).body["upserted"] == 500
    assert calls.by_operation() == {"ExecuteStatement": 1}
    with CallCounter(stack.env.client("rds-data")) as calls:
        assert sync(stack, alice, *many[:100], full_sync=True).body["closed"] == 400
    assert calls.by_operation() == {"BeginTransaction": 1, "ExecuteStatement": 2, "CommitTransaction": 1}


def _positions(count: int) -> list[dict[str, Any]]:
    return [stock(f"S{i}") for i in range(count)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"positions": [{**STOCK, "quantity": -5}]}, "body.positions.0.quantity"),
        ({"positions": [{**STOCK, "quantity": 1.5}]}, "body.positions.0.quantity"),
        ({"positions": [{**STOCK, "quantity": "5"}]}, "body.positions.0.quantity"),
        ({"positions": [{**STOCK, "quantity": 2**31}]}, "body.positions.0.quantity"),
        ({"positions": [{**STOCK, "average_cost": -0.01}]}, "body.positions.0.average_cost"),
        ({"positions": [{**STOCK, "average_cost": "Infinity"}]}, "body.positions.0.average_cost"),
        ({"positions": [{**STOCK, "average_cost": 1e12}]}, "body.positions.0.average_cost"),
        ({"positions": [{**STOCK, "symbol": "NOT A SYMBOL"}]}, "body.positions.0.symbol"),
        ({"positions": [{**STOCK, "position_type": "bond"}]}, "body.positions.0.position_type"),
        ({"positions": [{**STOCK, "direction": "sideways"}]}, "body.positions.0.direction"),
        ({"positions": [{**STOCK, "strike": 150}]}, "body.positions.0"),
        ({"positions": [{k: v for k, v in PUT.items() if k != "expiration"}]}, "body.positions.0"),
        ({"positions": [{**PUT, "expiration": "next friday"}]}, "body.positions.0.expiration"),
        ({"positions": [{**PUT, "strike": 0}]}, "body.positions.0.strike"),
        ({"positions": [{**PUT, "strike": "500.00001"}]}, "body.positions.0.strike"),
        ({"positions": [{**PUT, "option_type": "straddle"}]}, "body.positions.0.option_type"),
        ({"positions": [{**PUT, "opened_at": "2024-12-02T14:30:00"}]}, "body.positions.0.opened_at"),
        ({"positions": [{**STOCK, "id": 1}]}, "body.positions.0.id"),
        ({"positions": [{**STOCK, "status": "closed"}]}, "body.positions.0.status"),
        ({"positions": [STOCK], "user_id": "someone-else"}, "body.user_id"),
        ({"positions": [STOCK], "full_sync": "yes"}, "body.full_sync"),
        ({"positions": [STOCK, {**STOCK, "symbol": "aapl", "quantity": 1}]}, "body"),
        ({"positions": _positions(501)}, "body.positions"),
        ({"positions": STOCK}, "body.positions"),
        ({}, "body.positions"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    stack: LocalStack, alice: str, body: dict[str, Any], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("PUT", "/api/v1/positions", token=alice, json=body)
    assert status == 422, response
    assert field in [f["field"] for f in response["error"]["fields"]], response["error"]["fields"]
    assert calls.total == 0
    assert rows_of(stack, alice) == []


def test_an_option_position_error_names_what_is_missing(stack: LocalStack, alice: str) -> None:
    response = sync(stack, alice, {k: v for k, v in PUT.items() if k not in {"strike", "expiration"}}).body
    assert "missing strike, expiration" in response["error"]["fields"][0]["message"]
    response = sync(stack, alice, {**STOCK, "option_type": "call"}).body
    assert "got option_type" in response["error"]["fields"][0]["message"]


def test_lists_page_by_id_with_cursors_bound_to_their_status(stack: LocalStack, alice: str) -> None:
    synced = sync(stack, alice, *_positions(7)).body["positions"]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = stack.http("GET", "/api/v1/positions", token=alice, query=query).body
        assert len(page["items"]) <= 3
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == ([p["id"] for p in synced], 3)
    assert seen == sorted(seen)
    open_cursor = stack.http("GET", "/api/v1/positions", token=alice, query={"limit": "3"}).body["next_cursor"]
    for query in ({"cursor": "garbage"}, {"status": "closed", "cursor": open_cursor}):
        assert stack.http("GET", "/api/v1/positions", token=alice, query=query).status == 400, query
    for query in ({"limit": "101"}, {"limit": "0"}, {"status": "expired"}):
        assert stack.http("GET", "/api/v1/positions", token=alice, query=query).status == 422, query
    for path in ("/api/v1/positions/abc", "/api/v1/positions/0", f"/api/v1/positions/{2**63}"):
        assert stack.http("GET", path, token=alice).status == 422, path


def test_each_read_is_one_data_api_call(stack: LocalStack, alice: str) -> None:
    position_id = sync(stack, alice, STOCK).body["positions"][0]["id"]
    stack.http("GET", "/api/v1/positions", token=alice)  # the authorizer's first call reads its secret
    for path in ("/api/v1/positions", f"/api/v1/positions/{position_id}"):
        with CallCounter(stack.env.client("rds-data")) as calls:
            assert stack.http("GET", path, token=alice).status == 200
        assert calls.by_operation() == {"ExecuteStatement": 1}, path


def test_another_user_can_neither_read_list_change_nor_close_a_position(
    stack: LocalStack, alice: str, bob: str
) -> None:
    alice_rows = sync(stack, alice, STOCK, PUT).body["positions"]
    alice_id = user_id(stack, alice)
    # Another user's id answers exactly as an id that does not exist.
    mine = stack.http("GET", f"/api/v1/positions/{alice_rows[0]['id']}", token=bob)
    nobody = stack.http("GET", f"/api/v1/positions/{2**62}", token=bob)
    assert (mine.status, mine.body["error"]["code"]) == (nobody.status, nobody.body["error"]["code"])
    assert mine.status == 404
    for which in ("open", "closed", "all"):
        assert listed(stack, bob, status=which, user_id=alice_id) == []
    # Bob cannot aim his sync at Alice's rows: ids and user ids are not fields of a sync.
    assert sync(stack, bob, {**STOCK, "id": alice_rows[0]["id"]}).status == 422
    status, _, _ = stack.http("PUT", "/api/v1/positions", token=bob, json={"positions": [STOCK], "user_id": alice_id})
    assert status == 422
    # The same position in Bob's account is Bob's own row, and his full sync closes only his.
    bobs = sync(stack, bob, {**STOCK, "quantity": 1}).body["positions"]
    assert bobs[0]["id"] not in {p["id"] for p in alice_rows}
    assert sync(stack, bob, full_sync=True).body["closed"] == 1
    assert listed(stack, alice) == alice_rows
    assert [p["quantity"] for p in listed(stack, alice)] == [100, 2]

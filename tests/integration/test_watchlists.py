"""/api/v1/watchlists end to end: one user's lists, validated and audited, invisible to everyone else."""

from __future__ import annotations

from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack


def put(stack: LocalStack, token: str, name: str, **body: Any) -> Any:
    return stack.http("PUT", f"/api/v1/watchlists/{name}", token=token, json={"symbols": ["AAPL"], **body})


def test_a_watchlist_is_created_read_replaced_listed_and_deleted(stack: LocalStack, alice: str) -> None:
    status, _, created = put(stack, alice, "tech", symbols=["aapl", "MSFT", "AAPL", "nvda"], description="big tech")
    assert status == 200
    assert created["symbols"] == ["AAPL", "MSFT", "NVDA"]  # normalized, de-duplicated, order kept
    assert stack.http("GET", "/api/v1/watchlists/tech", token=alice).body["description"] == "big tech"
    replaced = put(stack, alice, "tech", symbols=["AMD"]).body
    assert (replaced["symbols"], replaced["description"]) == (["AMD"], None)
    assert replaced["created_at"] == created["created_at"]
    assert replaced["updated_at"] > created["updated_at"]
    assert [w["name"] for w in stack.http("GET", "/api/v1/watchlists", token=alice).body["items"]] == ["tech"]
    assert stack.http("DELETE", "/api/v1/watchlists/tech", token=alice).status == 204
    assert stack.http("GET", "/api/v1/watchlists/tech", token=alice).status == 404
    assert stack.http("DELETE", "/api/v1/watchlists/tech", token=alice).status == 404


def test_every_write_is_audited_with_its_request(stack: LocalStack, alice: str) -> None:
    put(stack, alice, "audited")
    stack.http("DELETE", "/api/v1/watchlists/audited", token=alice)
    user_id = stack.http("GET", "/api/v1/me", token=alice).body["id"]
    events = (
        stack.env.DB.prepare("SELECT action, entity, request_id FROM audit_events WHERE user_id = ? ORDER BY id")
        .bind(user_id)
        .all()
        .results
    )
    assert [(e["action"], e["entity"]) for e in events] == [
        ("watchlist.put", "watchlist"),
        ("watchlist.delete", "watchlist"),
    ]
    assert all(e["request_id"] for e in events)


def test_names_with_spaces_round_trip(stack: LocalStack, alice: str) -> None:
    assert put(stack, alice, "my picks").status == 200
    assert stack.http("GET", "/api/v1/watchlists/my picks", token=alice).body["name"] == "my picks"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("ok", {"symbols": ["NOT A SYMBOL"]}),
        ("ok", {"symbols": [f"S{i}" for i in range(501)]}),
        ("ok", {"symbols": ["AAPL"], "user_id": "someone-else"}),
        ("ok", {"symbols": ["AAPL"], "description": "x" * 2001}),
        ("ok", {"symbols": "AAPL"}),
        ("ok", {}),
        ("-leading-dash", {"symbols": ["AAPL"]}),
        ("x" * 101, {"symbols": ["AAPL"]}),
    ],
)
def test_bad_input_is_a_422_and_writes_nothing(stack: LocalStack, alice: str, name: str, body: dict[str, Any]) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("PUT", f"/api/v1/watchlists/{name}", token=alice, json=body)
    assert status == 422, response
    assert response["error"]["fields"]
    assert calls.total == 0


def test_lists_page_with_opaque_cursors(stack: LocalStack, alice: str) -> None:
    names = [f"list-{i}" for i in range(7)]
    for name in names:
        put(stack, alice, name)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = stack.http("GET", "/api/v1/watchlists", token=alice, query=query).body
        assert len(page["items"]) <= 3
        seen += [w["name"] for w in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (names, 3)
    assert stack.http("GET", "/api/v1/watchlists", token=alice, query={"cursor": "garbage"}).status == 400
    assert stack.http("GET", "/api/v1/watchlists", token=alice, query={"limit": "101"}).status == 422


def test_each_read_is_one_data_api_call(stack: LocalStack, alice: str) -> None:
    put(stack, alice, "counted")
    stack.http("GET", "/api/v1/watchlists", token=alice)  # the authorizer's first call reads its secret
    for path in ("/api/v1/watchlists", "/api/v1/watchlists/counted"):
        with CallCounter(stack.env.client("rds-data")) as calls:
            assert stack.http("GET", path, token=alice).status == 200
        assert calls.by_operation() == {"ExecuteStatement": 1}, path


def test_another_user_can_neither_read_list_change_nor_delete_a_watchlist(
    stack: LocalStack, alice: str, bob: str
) -> None:
    put(stack, alice, "private", symbols=["TSLA"])
    alice_id = stack.http("GET", "/api/v1/me", token=alice).body["id"]
    assert stack.http("GET", "/api/v1/watchlists/private", token=bob).status == 404
    assert stack.http("DELETE", "/api/v1/watchlists/private", token=bob).status == 404
    listed = stack.http("GET", "/api/v1/watchlists", token=bob, query={"user_id": alice_id}).body["items"]
    assert listed == []
    # Bob's PUT of the same name makes Bob's own list; Alice's is untouched.
    assert put(stack, bob, "private", symbols=["GME"]).body["symbols"] == ["GME"]
    assert stack.http("GET", "/api/v1/watchlists/private", token=alice).body["symbols"] == ["TSLA"]
    assert (
        stack.http("PUT", "/api/v1/watchlists/private", token=bob, json={"symbols": [], "user_id": alice_id}).status
        == 422
    )
    assert stack.http("GET", "/api/v1/watchlists/private", token=alice).body["symbols"] == ["TSLA"]

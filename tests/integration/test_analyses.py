"""/api/v1/analyses end to end: one user's history, validated, audited and cached, invisible to everyone else."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock


class User(NamedTuple):
    id: str
    token: str


def new_user(stack: LocalStack, name: str) -> User:
    user_id = f"{name}-{uuid.uuid4().hex[:8]}"
    return User(user_id, stack.token_for(user_id))


@pytest.fixture
def alice(stack: LocalStack) -> User:
    return new_user(stack, "alice")


@pytest.fixture
def bob(stack: LocalStack) -> User:
    return new_user(stack, "bob")


def analysis(**fields: Any) -> dict[str, Any]:
    return {"symbol": "AAPL", "type": "chart", "result": {"trend": "up", "score": 0.8}, **fields}


def create(stack: LocalStack, user: User, **fields: Any) -> Any:
    return stack.http("POST", "/api/v1/analyses", token=user.token, json=analysis(**fields))


def listing(stack: LocalStack, user: User, **query: str) -> Any:
    return stack.http("GET", "/api/v1/analyses", token=user.token, query=query)


def test_an_analysis_is_recorded_read_back_and_cached_as_the_latest_for_its_symbol(
    stack: LocalStack, alice: User
) -> None:
    status, _, created = create(
        stack,
        alice,
        symbol=" aapl ",
        type="full",
        params={"lookback_days": 90},
        recommendation="select",
        workflow_id="wf-2026:abc.1",
    )
    assert status == 201
    assert created["symbol"] == "AAPL"  # normalized
    assert (created["type"], created["recommendation"], created["workflow_id"]) == ("full", "select", "wf-2026:abc.1")
    assert (created["params"], created["result"]) == ({"lookback_days": 90}, {"trend": "up", "score": 0.8})
    assert stack.http("GET", f"/api/v1/analyses/{created['id']}", token=alice.token).body == created
    cache_key = f"user:{alice.id}:analysis:AAPL"
    assert stack.env.KV.get(cache_key, "json") == created

    newer = create(stack, alice, result={"trend": "down"}, recommendation="reject").body
    assert newer["id"] > created["id"]
    assert (newer["params"], newer["workflow_id"]) == (None, None)
    assert stack.env.KV.get(cache_key, "json") == newer  # the cache holds the latest only


def test_every_create_is_audited_with_its_request(stack: LocalStack, alice: User) -> None:
    created = create(stack, alice).body
    events = (
        stack.env.DB.prepare("SELECT action, entity, entity_id, request_id FROM audit_events WHERE user_id = ?")
        .bind(alice.id)
        .all()
        .results
    )
    assert [(e["action"], e["entity"], e["entity_id"]) for e in events] == [
        ("analysis.create", "analysis", str(created["id"]))
    ]
    assert events[0]["request_id"]


def nested(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for _ in range(depth - 1):
        document = {"n": document}
    return document


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (analysis(symbol="NOT A SYMBOL"), "body.symbol"),
        (analysis(symbol="Z" * 10_000), "body.symbol"),
        (analysis(symbol=42), "body.symbol"),
        (analysis(type="astrology"), "body.type"),
        (analysis(recommendation="buy"), "body.recommendation"),
        (analysis(recommendation=1), "body.recommendation"),
        (analysis(result=["not", "an", "object"]), "body.result"),
        (analysis(result="{}"), "body.result"),
        (analysis(result={"blob": "x" * (48 * 1024)}), "body.result"),
        (analysis(result={"tiny_but_printed_long": [1e300] * 200}), "body.result"),
        (analysis(result=nested(65)), "body.result"),
        (analysis(result={"text": "nul\x00inside"}), "body.result"),
        (analysis(params={"blob": "x" * (8 * 1024)}), "body.params"),
        (analysis(params=[1]), "body.params"),
        (analysis(workflow_id="w" * 201), "body.workflow_id"),
        (analysis(workflow_id="has spaces"), "body.workflow_id"),
        (analysis(user_id="someone-else"), "body.user_id"),
        (analysis(id=1), "body.id"),
        ({"symbol": "AAPL", "type": "chart"}, "body.result"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_touches_no_database(
    stack: LocalStack, alice: User, body: dict[str, Any], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("POST", "/api/v1/analyses", token=alice.token, json=body)
    assert status == 422, response
    assert field in [f["field"] for f in response["error"]["fields"]], response
    assert calls.total == 0
    assert stack.env.KV.get(f"user:{alice.id}:analysis:AAPL") is None


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_a_result_are_refused(stack: LocalStack, alice: User, literal: str) -> None:
    raw = '{"symbol": "AAPL", "type": "options", "result": {"iv": [0.2, %s]}}' % literal  # noqa: UP031
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http(
            "POST", "/api/v1/analyses", token=alice.token, body=raw, headers={"content-type": "application/json"}
        )
    assert status == 422
    assert [f["field"] for f in response["error"]["fields"]] == ["body.result"]
    assert calls.total == 0


def test_a_result_at_the_size_limit_is_taken_and_reads_back(stack: LocalStack, alice: User) -> None:
    # The limit is on the bytes PostgreSQL prints (UTF-8, not \u escapes), which keeps the row under the Data
    # API's 64 KB: a stored analysis can always be read back.
    characters = (48 * 1024 - len('{"blob": ""}')) // 2
    status, _, created = create(stack, alice, result={"blob": "é" * characters}, params={"p": "q" * 8000})
    assert status == 201, created
    assert stack.http("GET", f"/api/v1/analyses/{created['id']}", token=alice.token).body == created


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/api/v1/analyses/not-a-number", {}, 422),
        ("/api/v1/analyses/0", {}, 422),
        (f"/api/v1/analyses/{2**63}", {}, 422),
        ("/api/v1/analyses", {"symbol": "NOT A SYMBOL"}, 422),
        ("/api/v1/analyses", {"limit": "101"}, 422),
        ("/api/v1/analyses", {"limit": "0"}, 422),
        ("/api/v1/analyses", {"cursor": "garbage"}, 400),
    ],
)
def test_bad_reads_are_refused_before_the_database(
    stack: LocalStack, alice: User, path: str, query: dict[str, str], status: int
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        response = stack.http("GET", path, token=alice.token, query=query)
    assert response.status == status, response.body
    assert calls.total == 0


def test_an_unknown_id_is_a_404(stack: LocalStack, alice: User) -> None:
    assert stack.http("GET", f"/api/v1/analyses/{2**63 - 1}", token=alice.token).status == 404


def test_lists_are_newest_first_and_page_with_cursors_even_within_one_instant(
    stack: LocalStack, alice: User, clock: Clock
) -> None:
    # The clock is frozen, so every analysis has the same created_at: the id breaks the tie, in the cursor too.
    ids = [create(stack, alice, symbol="MSFT" if i % 2 else "NVDA").body["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = listing(stack, alice, limit="3", **({"cursor": cursor} if cursor else {})).body
        assert len(page["items"]) <= 3
        seen += [a["id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (ids[::-1], 3)

    msft = listing(stack, alice, symbol="msft", limit="2").body
    assert [a["id"] for a in msft["items"]] == [ids[5], ids[3]]
    rest = listing(stack, alice, symbol="MSFT", limit="2", cursor=msft["next_cursor"]).body
    assert ([a["id"] for a in rest["items"]], rest["next_cursor"]) == ([ids[1]], None)
    # A cursor continues only the list it came from.
    assert listing(stack, alice, cursor=msft["next_cursor"]).status == 400


def test_a_later_analysis_lists_before_an_earlier_one(stack: LocalStack, alice: User, clock: Clock) -> None:
    first = create(stack, alice).body
    clock.travel(3600)
    second = create(stack, alice).body
    assert [a["id"] for a in listing(stack, alice).body["items"]] == [second["id"], first["id"]]
    assert second["created_at"] > first["created_at"]


def test_a_page_stops_at_its_byte_budget_and_the_cursor_carries_on(stack: LocalStack, alice: User) -> None:
    # 24 results of 46 KB are over the Data API's 1 MiB response limit together; the budget splits them.
    ids = [create(stack, alice, result={"i": i, "blob": "x" * 46_000}).body["id"] for i in range(24)]
    seen, cursor, sizes = [], None, []
    while True:
        with CallCounter(stack.env.client("rds-data")) as calls:
            status, _, page = listing(stack, alice, limit="100", **({"cursor": cursor} if cursor else {}))
        assert status == 200
        assert calls.by_operation() == {"ExecuteStatement": 1}
        assert all(len(a["result"]["blob"]) == 46_000 for a in page["items"])
        seen += [a["id"] for a in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert len(sizes) == 2
    assert 10 < sizes[0] < 24


def test_each_read_is_one_data_api_call(stack: LocalStack, alice: User) -> None:
    created = create(stack, alice).body
    for path, query in (
        ("/api/v1/analyses", {}),
        ("/api/v1/analyses", {"symbol": "AAPL"}),
        (f"/api/v1/analyses/{created['id']}", {}),
    ):
        with CallCounter(stack.env.client("rds-data")) as calls:
            assert stack.http("GET", path, token=alice.token, query=query).status == 200
        assert calls.by_operation() == {"ExecuteStatement": 1}, path


def test_another_user_can_neither_read_list_nor_write_as_the_owner(stack: LocalStack, alice: User, bob: User) -> None:
    mine = create(stack, alice, symbol="TSLA", result={"secret": True}).body
    assert stack.http("GET", f"/api/v1/analyses/{mine['id']}", token=bob.token).status == 404
    for query in ({}, {"user_id": alice.id}, {"symbol": "TSLA"}, {"symbol": "TSLA", "user_id": alice.id}):
        assert listing(stack, bob, **query).body["items"] == [], query
    status, _, refused = create(stack, bob, symbol="TSLA", user_id=alice.id)
    assert (status, [f["field"] for f in refused["error"]["fields"]]) == (422, ["body.user_id"])

    # Bob's own analysis of the same symbol is his alone, and so is its cache entry.
    theirs = create(stack, bob, symbol="TSLA", result={"bob": 1}).body
    assert [a["id"] for a in listing(stack, alice).body["items"]] == [mine["id"]]
    assert stack.env.KV.get(f"user:{alice.id}:analysis:TSLA", "json") == mine
    assert stack.env.KV.get(f"user:{bob.id}:analysis:TSLA", "json") == theirs

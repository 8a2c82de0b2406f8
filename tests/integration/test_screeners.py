"""/api/v1/screeners end to end: saved screeners by name and their stored runs, validated, audited and private."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack


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


def screener(**fields: Any) -> dict[str, Any]:
    return {"type": "csp", "criteria": {"min_iv_rank": 30, "max_dte": 45}, **fields}


def put(stack: LocalStack, user: User, name: str, **fields: Any) -> Any:
    return stack.http("PUT", f"/api/v1/screeners/{name}", token=user.token, json=screener(**fields))


def screener_id(stack: LocalStack, user: User, name: str) -> int:
    found = stack.env.DB.prepare("SELECT id FROM screeners WHERE user_id = ? AND name = ?").bind(user.id, name).first()
    assert found is not None
    return int(found["id"])


def record_run(stack: LocalStack, user: User, screener: int | None, at: datetime, found: int = 1) -> int:
    """A stored run, as the screener consumer (a later issue) will write it."""
    run_id = (
        stack.env.DB.prepare(
            """INSERT INTO screener_results (user_id, screener_id, criteria, results, candidates_found, created_at)
            VALUES (?, ?, ?, ?, ?, ?) RETURNING id"""
        )
        .bind(user.id, screener, {"max_dte": 45}, [{"symbol": f"S{i}"} for i in range(found)], found, at)
        .first("id")
    )
    assert isinstance(run_id, int)
    return run_id


def runs(stack: LocalStack, user: User, name: str, **query: str) -> Any:
    return stack.http("GET", f"/api/v1/screeners/{name}/results", token=user.token, query=query)


def test_a_screener_is_created_read_replaced_listed_and_deleted(stack: LocalStack, alice: User) -> None:
    status, _, created = put(
        stack,
        alice,
        "weekly csp",
        description="high IV puts",
        auto_run=True,
        schedule="30  9 * * mon-fri",
        notify_channels=["email", "push", "email"],
    )
    assert status == 200, created
    assert created["name"] == "weekly csp"
    assert created["criteria"] == {"min_iv_rank": 30, "max_dte": 45}
    assert (created["auto_run"], created["schedule"]) == (True, "30 9 * * mon-fri")
    assert created["notify_channels"] == ["email", "push"]  # de-duplicated, order kept
    assert stack.http("GET", "/api/v1/screeners/weekly csp", token=alice.token).body == created

    replaced = put(stack, alice, "weekly csp", type="stock", criteria={"sector": "tech"}).body
    assert (replaced["type"], replaced["criteria"], replaced["description"]) == ("stock", {"sector": "tech"}, None)
    assert (replaced["auto_run"], replaced["schedule"], replaced["notify_channels"]) == (False, None, [])
    assert replaced["created_at"] == created["created_at"]
    assert replaced["updated_at"] > created["updated_at"]
    listed = stack.http("GET", "/api/v1/screeners", token=alice.token).body
    assert [s["name"] for s in listed["items"]] == ["weekly csp"]

    assert stack.http("DELETE", "/api/v1/screeners/weekly csp", token=alice.token).status == 204
    assert stack.http("GET", "/api/v1/screeners/weekly csp", token=alice.token).status == 404
    assert stack.http("DELETE", "/api/v1/screeners/weekly csp", token=alice.token).status == 404


def test_every_write_is_audited_with_its_request(stack: LocalStack, alice: User) -> None:
    put(stack, alice, "audited")
    put(stack, alice, "audited", type="stock")
    stack.http("DELETE", "/api/v1/screeners/audited", token=alice.token)
    events = (
        stack.env.DB.prepare("SELECT action, entity, request_id FROM audit_events WHERE user_id = ? ORDER BY id")
        .bind(alice.id)
        .all()
        .results
    )
    assert [(e["action"], e["entity"]) for e in events] == [
        ("screener.put", "screener"),
        ("screener.put", "screener"),
        ("screener.delete", "screener"),
    ]
    assert len({e["request_id"] for e in events}) == 3


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("ok", screener(type="options"), "body.type"),
        ("ok", screener(criteria=["min_iv_rank"]), "body.criteria"),
        ("ok", screener(criteria="{}"), "body.criteria"),
        ("ok", screener(criteria={"blob": "x" * (16 * 1024)}), "body.criteria"),
        ("ok", screener(criteria={"bad": "nul\x00"}), "body.criteria"),
        ("ok", screener(auto_run="yes"), "body.auto_run"),
        ("ok", screener(auto_run=1), "body.auto_run"),
        ("ok", screener(notify_channels=["sms"]), "body.notify_channels.0"),
        ("ok", screener(notify_channels="email"), "body.notify_channels"),
        ("ok", screener(schedule="every morning"), "body.schedule"),
        ("ok", screener(schedule="61 * * * *"), "body.schedule"),
        ("ok", screener(schedule="0 9 * * 1-5 2026"), "body.schedule"),
        ("ok", screener(schedule="*/0 * * * *"), "body.schedule"),
        ("ok", screener(schedule="0 17-9 * * *"), "body.schedule"),
        ("ok", screener(schedule="0 9 * * " + "1," * 100), "body.schedule"),
        ("ok", screener(description="x" * 2001), "body.description"),
        ("ok", screener(description="nul\x00"), "body.description"),
        ("ok", screener(user_id="someone-else"), "body.user_id"),
        ("ok", screener(name="other"), "body.name"),
        ("ok", {"criteria": {}}, "body.type"),
        ("-leading-dash", screener(), "path.name"),
        ("x" * 101, screener(), "path.name"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_touches_no_database(
    stack: LocalStack, alice: User, name: str, body: dict[str, Any], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("PUT", f"/api/v1/screeners/{name}", token=alice.token, json=body)
    assert status == 422, response
    assert field in [f["field"] for f in response["error"]["fields"]], response
    assert calls.total == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_criteria_are_refused(stack: LocalStack, alice: User, literal: str) -> None:
    raw = '{"type": "stock", "criteria": {"min_price": %s}}' % literal  # noqa: UP031
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http(
            "PUT", "/api/v1/screeners/nan", token=alice.token, body=raw, headers={"content-type": "application/json"}
        )
    assert status == 422
    assert [f["field"] for f in response["error"]["fields"]] == ["body.criteria"]
    assert calls.total == 0


def test_screeners_page_by_name_with_opaque_cursors(stack: LocalStack, alice: User) -> None:
    names = [f"screen-{i}" for i in range(5)]
    for name in reversed(names):
        put(stack, alice, name)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = stack.http("GET", "/api/v1/screeners", token=alice.token, query=query).body
        seen += [s["name"] for s in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (names, 3)
    assert stack.http("GET", "/api/v1/screeners", token=alice.token, query={"cursor": "garbage"}).status == 400
    assert stack.http("GET", "/api/v1/screeners", token=alice.token, query={"limit": "101"}).status == 422


def test_results_are_the_screeners_own_runs_newest_first_in_pages(stack: LocalStack, alice: User) -> None:
    put(stack, alice, "daily")
    put(stack, alice, "other")
    daily, other = screener_id(stack, alice, "daily"), screener_id(stack, alice, "other")
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    # Two runs in the same instant: the id orders them, in the cursor too.
    ids = [record_run(stack, alice, daily, start + timedelta(minutes=min(i, 3)), found=i) for i in range(5)]
    record_run(stack, alice, other, start + timedelta(hours=1))
    record_run(stack, alice, None, start + timedelta(hours=1))

    seen, cursor, pages = [], None, 0
    while True:
        page = runs(stack, alice, "daily", limit="2", **({"cursor": cursor} if cursor else {})).body
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (ids[::-1], 3)
    newest = runs(stack, alice, "daily", limit="1").body["items"][0]
    assert newest == {
        "id": ids[4],
        "criteria": {"max_dte": 45},
        "results": [{"symbol": f"S{i}"} for i in range(4)],
        "candidates_found": 4,
        "created_at": "2026-03-02T14:33:00Z",
    }
    # A cursor continues only the list it came from.
    first = runs(stack, alice, "daily", limit="1").body["next_cursor"]
    assert runs(stack, alice, "other", cursor=first).status == 400


def test_a_screener_without_runs_has_an_empty_first_page(stack: LocalStack, alice: User) -> None:
    put(stack, alice, "fresh")
    assert runs(stack, alice, "fresh").body == {"items": [], "next_cursor": None}
    assert runs(stack, alice, "never-made").status == 404


def test_deleting_a_screener_keeps_its_runs_detached(stack: LocalStack, alice: User) -> None:
    put(stack, alice, "retired")
    run = record_run(stack, alice, screener_id(stack, alice, "retired"), datetime(2026, 1, 5, tzinfo=UTC))
    assert stack.http("DELETE", "/api/v1/screeners/retired", token=alice.token).status == 204
    kept = stack.env.DB.prepare("SELECT screener_id FROM screener_results WHERE id = ?").bind(run).first()
    assert kept == {"screener_id": None}
    assert runs(stack, alice, "retired").status == 404
    # A new screener by the same name starts with no history: the old runs belonged to another configuration.
    put(stack, alice, "retired")
    assert runs(stack, alice, "retired").body["items"] == []


def test_each_read_is_one_data_api_call(stack: LocalStack, alice: User) -> None:
    put(stack, alice, "counted")
    record_run(stack, alice, screener_id(stack, alice, "counted"), datetime(2026, 2, 2, tzinfo=UTC))
    for path in ("/api/v1/screeners", "/api/v1/screeners/counted", "/api/v1/screeners/counted/results"):
        with CallCounter(stack.env.client("rds-data")) as calls:
            assert stack.http("GET", path, token=alice.token).status == 200
        assert calls.by_operation() == {"ExecuteStatement": 1}, path
    with CallCounter(stack.env.client("rds-data")) as calls:
        assert stack.http("GET", "/api/v1/screeners/missing/results", token=alice.token).status == 404
    assert calls.by_operation() == {"ExecuteStatement": 1}


def test_another_user_can_neither_read_list_change_nor_delete_a_screener(
    stack: LocalStack, alice: User, bob: User
) -> None:
    put(stack, alice, "private", criteria={"secret": 1})
    record_run(stack, alice, screener_id(stack, alice, "private"), datetime(2026, 2, 3, tzinfo=UTC))
    assert stack.http("GET", "/api/v1/screeners/private", token=bob.token).status == 404
    assert runs(stack, bob, "private").status == 404
    assert runs(stack, bob, "private", user_id=alice.id).status == 404
    assert stack.http("DELETE", "/api/v1/screeners/private", token=bob.token).status == 404
    assert stack.http("GET", "/api/v1/screeners", token=bob.token, query={"user_id": alice.id}).body["items"] == []

    # Bob's PUT of the same name makes Bob's own screener, with none of Alice's runs; Alice's is untouched.
    assert put(stack, bob, "private", criteria={"bob": 2}).body["criteria"] == {"bob": 2}
    assert runs(stack, bob, "private").body["items"] == []
    status, _, refused = put(stack, bob, "private", user_id=alice.id)
    assert (status, [f["field"] for f in refused["error"]["fields"]]) == (422, ["body.user_id"])
    assert stack.http("GET", "/api/v1/screeners/private", token=alice.token).body["criteria"] == {"secret": 1}
    assert len(runs(stack, alice, "private").body["items"]) == 1

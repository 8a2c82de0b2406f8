"""/api/v1/alerts end to end: created, listed, cancelled and audited for one user, invisible to everyone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from tests.integration.conftest import user_id


def create(stack: LocalStack, token: str, **body: Any) -> Any:
    payload = {"symbol": "AAPL", "alert_type": "price", "condition": "above", "threshold": 200, **body}
    return stack.http("POST", "/api/v1/alerts", token=token, json=payload)


def fire(stack: LocalStack, owner: str, alert_id: int, message: str, at: datetime) -> int:
    """An alert_events row as the intraday job will write it (that job comes later)."""
    event_id: int = (
        stack.env.DB.prepare(
            """INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message, current_value,
                   details, channels_notified, triggered_at)
               SELECT user_id, id, symbol, alert_type, ?3, ?4, ?5, ?6, ?7 FROM alerts WHERE user_id = ?1 AND id = ?2
               RETURNING id"""
        )
        .bind(owner, alert_id, message, Decimal("201.5"), {"source": "test"}, ["email"], at)
        .first("id")
    )
    return event_id


def test_an_alert_is_created_listed_and_cancelled(stack: LocalStack, alice: str, clock: Clock) -> None:
    status, _, created = create(
        stack,
        alice,
        symbol="aapl",
        threshold=199.5,
        message_template="{symbol} crossed",
        channels=["email", "push", "email"],
    )
    assert status == 201, created
    assert (created["symbol"], created["status"], created["channels"]) == ("AAPL", "active", ["email", "push"])
    assert Decimal(created["threshold"]) == Decimal("199.5")
    assert datetime.fromisoformat(created["created_at"]) == datetime.fromtimestamp(clock.now, UTC)
    listed = stack.http("GET", "/api/v1/alerts", token=alice, query={"status": "active"}).body["items"]
    assert [a["id"] for a in listed] == [created["id"]]

    clock.travel(60)
    assert stack.http("DELETE", f"/api/v1/alerts/{created['id']}", token=alice).status == 204
    assert stack.http("GET", "/api/v1/alerts", token=alice, query={"status": "active"}).body["items"] == []
    (cancelled,) = stack.http("GET", "/api/v1/alerts", token=alice, query={"status": "cancelled"}).body["items"]
    assert cancelled["status"] == "cancelled"
    assert datetime.fromisoformat(cancelled["cancelled_at"]) == datetime.fromtimestamp(clock.now, UTC)


def test_cancelling_an_alert_that_is_no_longer_active_is_a_conflict(stack: LocalStack, alice: str) -> None:
    alert_id = create(stack, alice).body["id"]
    assert stack.http("DELETE", f"/api/v1/alerts/{alert_id}", token=alice).status == 204
    status, _, body = stack.http("DELETE", f"/api/v1/alerts/{alert_id}", token=alice)
    assert status == 409
    assert body["error"]["message"] == f"alert {alert_id} is already cancelled; only an active alert can be cancelled"

    triggered = create(stack, alice).body["id"]
    stack.env.DB.prepare("UPDATE alerts SET status = 'triggered', triggered_at = now() WHERE id = ?").bind(
        triggered
    ).run()
    status, _, body = stack.http("DELETE", f"/api/v1/alerts/{triggered}", token=alice)
    assert (status, "already triggered" in body["error"]["message"]) == (409, True)
    assert stack.http("DELETE", "/api/v1/alerts/999999999", token=alice).status == 404


def test_thresholds_are_optional_only_for_event_alerts(stack: LocalStack, alice: str) -> None:
    status, _, news = create(stack, alice, alert_type="news", threshold=None)
    assert (status, news["threshold"]) == (201, None)
    assert create(stack, alice, alert_type="earnings", condition="below", threshold=None).status == 201
    assert create(stack, alice, alert_type="delta", threshold=-0.3).status == 201
    assert create(stack, alice, alert_type="dte", condition="below", threshold=21).status == 201


def test_creating_and_cancelling_are_audited_with_the_request(stack: LocalStack, alice: str) -> None:
    alert_id = create(stack, alice).body["id"]
    stack.http("DELETE", f"/api/v1/alerts/{alert_id}", token=alice)
    events = (
        stack.env.DB.prepare(
            "SELECT action, entity, entity_id, request_id FROM audit_events WHERE user_id = ? ORDER BY id"
        )
        .bind(user_id(stack, alice))
        .all()
        .results
    )
    assert [(e["action"], e["entity"], e["entity_id"]) for e in events] == [
        ("alert.create", "alert", str(alert_id)),
        ("alert.cancel", "alert", str(alert_id)),
    ]
    assert all(e["request_id"] for e in events)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "NOT A SYMBOL"}, "body.symbol"),
        ({"symbol": "A" * 10_000}, "body.symbol"),
        ({"alert_type": "volume"}, "body.alert_type"),
        ({"condition": "crosses"}, "body.condition"),
        ({"threshold": None}, "body.threshold"),  # a price alert needs one
        ({"threshold": "lots"}, "body.threshold"),
        ({"threshold": -1}, "body.threshold"),
        ({"alert_type": "delta", "threshold": 1.5}, "body.threshold"),
        ({"alert_type": "dte", "threshold": 7.5}, "body.threshold"),
        ({"threshold": 1e15}, "body.threshold"),  # over numeric(18, 6)
        ({"threshold": 0.1234567}, "body.threshold"),
        ({"channels": ["sms"]}, "body.channels.0"),
        ({"channels": "email"}, "body.channels"),
        ({"message_template": "x" * 1001}, "body.message_template"),
        ({"message_template": "nul\x00byte"}, "body.message_template"),
        ({"user_id": "someone-else"}, "body.user_id"),
        ({"status": "triggered"}, "body.status"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    stack: LocalStack, alice: str, body: dict[str, Any], field: str
) -> None:
    payload = {"symbol": "AAPL", "alert_type": "price", "condition": "above", "threshold": 200, **body}
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("POST", "/api/v1/alerts", token=alice, json=payload)
    assert status == 422, response
    assert field in [f["field"] for f in response["error"]["fields"]]
    assert calls.total == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_thresholds_sent_as_raw_json_are_refused(stack: LocalStack, alice: str, number: str) -> None:
    raw = f'{{"symbol": "AAPL", "alert_type": "price", "condition": "above", "threshold": {number}}}'
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http(
            "POST", "/api/v1/alerts", token=alice, body=raw, headers={"content-type": "application/json"}
        )
    assert status == 422, response
    assert [f["field"] for f in response["error"]["fields"]] == ["body.threshold"]
    assert calls.total == 0


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/api/v1/alerts", {"status": "expired"}),
        ("GET", "/api/v1/alerts", {"limit": "0"}),
        ("GET", "/api/v1/alerts", {"limit": "many"}),
        ("DELETE", "/api/v1/alerts/abc", {}),
        ("DELETE", "/api/v1/alerts/0", {}),
        ("GET", "/api/v1/alerts/abc/events", {}),
        ("GET", "/api/v1/alerts/1/events", {"limit": "101"}),
    ],
)
def test_bad_paths_and_queries_are_a_422_without_a_database_call(
    stack: LocalStack, alice: str, method: str, path: str, query: dict[str, str]
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http(method, path, token=alice, query=query)
    assert status == 422, response
    assert response["error"]["fields"]
    assert calls.total == 0


def test_lists_page_newest_first_with_opaque_cursors(stack: LocalStack, alice: str) -> None:
    ids = [create(stack, alice, threshold=100 + i).body["id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = stack.http("GET", "/api/v1/alerts", token=alice, query=query).body
        seen += [a["id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (ids[::-1], 3)
    assert stack.http("GET", "/api/v1/alerts", token=alice, query={"cursor": "garbage"}).status == 400


def test_events_page_newest_first_and_only_for_that_alert(stack: LocalStack, alice: str) -> None:
    owner = user_id(stack, alice)
    alert_id, other_id = create(stack, alice).body["id"], create(stack, alice).body["id"]
    start = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
    fired = [fire(stack, owner, alert_id, f"crossed #{i}", start + timedelta(minutes=i)) for i in range(5)]
    fire(stack, owner, other_id, "another alert's event", start)
    # Two events in the same microsecond: the id breaks the tie, so paging neither skips nor repeats one.
    fired.append(fire(stack, owner, alert_id, "same instant", start + timedelta(minutes=4)))
    seen, cursor = [], None
    while True:
        query = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        status, _, page = stack.http("GET", f"/api/v1/alerts/{alert_id}/events", token=alice, query=query)
        assert status == 200, page
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["id"] for e in seen] == [fired[5], fired[4], fired[3], fired[2], fired[1], fired[0]]
    assert {e["alert_id"] for e in seen} == {alert_id}
    first = seen[0]
    assert (Decimal(first["current_value"]), first["details"], first["channels_notified"]) == (
        Decimal("201.5"),
        {"source": "test"},
        ["email"],
    )
    quiet = create(stack, alice).body["id"]
    assert stack.http("GET", f"/api/v1/alerts/{quiet}/events", token=alice).body == {"items": [], "next_cursor": None}
    foreign = stack.http("GET", "/api/v1/alerts", token=alice, query={"limit": "1"}).body["next_cursor"]
    assert stack.http("GET", f"/api/v1/alerts/{alert_id}/events", token=alice, query={"cursor": foreign}).status == 400


def test_each_read_is_one_data_api_call(stack: LocalStack, alice: str) -> None:
    alert_id = create(stack, alice).body["id"]
    fire(stack, user_id(stack, alice), alert_id, "crossed", datetime(2025, 3, 3, tzinfo=UTC))
    for path in ("/api/v1/alerts", f"/api/v1/alerts/{alert_id}/events", "/api/v1/alerts/999999999/events"):
        with CallCounter(stack.env.client("rds-data")) as calls:
            stack.http("GET", path, token=alice)
        assert calls.by_operation() == {"ExecuteStatement": 1}, path
    with CallCounter(stack.env.client("rds-data")) as calls:
        assert stack.http("DELETE", f"/api/v1/alerts/{alert_id}", token=alice).status == 204
    assert calls.by_operation() == {"ExecuteStatement": 1}  # the cancel and its audit event are one statement


def test_another_user_can_neither_see_cancel_nor_read_the_events_of_an_alert(
    stack: LocalStack, alice: str, bob: str
) -> None:
    alert_id = create(stack, alice).body["id"]
    alice_id = user_id(stack, alice)
    fire(stack, alice_id, alert_id, "private", datetime(2025, 3, 3, tzinfo=UTC))
    assert stack.http("DELETE", f"/api/v1/alerts/{alert_id}", token=bob).status == 404
    assert stack.http("GET", f"/api/v1/alerts/{alert_id}/events", token=bob).status == 404
    for status in ("all", "active", "cancelled", "triggered"):
        query = {"status": status, "user_id": alice_id}
        assert stack.http("GET", "/api/v1/alerts", token=bob, query=query).body["items"] == []
    payload = {"symbol": "AAPL", "alert_type": "price", "condition": "above", "threshold": 1, "user_id": alice_id}
    assert stack.http("POST", "/api/v1/alerts", token=bob, json=payload).status == 422
    (still,) = stack.http("GET", "/api/v1/alerts", token=alice).body["items"]
    assert (still["id"], still["status"]) == (alert_id, "active")

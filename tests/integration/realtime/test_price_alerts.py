"""Price alerts in real time: a quote crossing an active price alert fires it within the ingest's seconds (alert
row, event, frame on the owner's channel), exactly once whatever races, and the intraday job does not fire it again."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.realtime import LocalRealtime
from local.stack import LocalStack
from tests.integration.realtime.conftest import client, nothing_more, receive, subscribe
from ttai.bindings.queues import consume
from ttai.consumers.dispatch import Consumer
from ttai.http import deps
from ttai.jobs import run_job
from ttai.services.cache import CacheService
from ttai.services.market import MarketDataService


@pytest.fixture
def symbol() -> str:
    return "P" + uuid.uuid4().hex[:5].upper()


@pytest.fixture
def ingest(stack: LocalStack, realtime: LocalRealtime, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    service = MarketDataService(CacheService(stack.env.KV), realtime=realtime.quote_hand_off())
    monkeypatch.setattr(deps, "market", lambda: service)
    feed = stack.token_for("quote-feed", scopes=["service"])

    def put(symbol: str, last: float, seconds_ago: float = 0) -> None:
        at = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()
        quotes = [{"symbol": symbol, "last": last, "updated_at": at}]
        status, _, body = stack.http("PUT", "/api/v1/quotes", token=feed, json={"quotes": quotes})
        assert status == 200, body

    return put


class Deliveries:
    """The consumer function as deployed builds it (real-time events on), counting alert_triggered records."""

    def __init__(self, stack: LocalStack, realtime: LocalRealtime) -> None:
        self.stack = stack
        self.consumer = Consumer(stack.env, events=realtime.user_events())
        self.alert_records: list[int] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.consumer.register_lambda_context(context)
        for record in event["Records"]:
            body = json.loads(record["body"])
            if body.get("type") == "alert_triggered":
                self.alert_records.append(int(body["alertId"]))
        return consume(event, self.consumer.process, sqs=self.stack.env.client("sqs"))

    def drain(self) -> None:
        self.stack.poller.drain(handler=self, bindings=["ANALYSIS_QUEUE"])


@pytest.fixture
def deliveries(stack: LocalStack, realtime: LocalRealtime) -> Deliveries:
    return Deliveries(stack, realtime)


@pytest.fixture
def owner(stack: LocalStack, user: str) -> tuple[str, str]:
    return user, stack.token_for(user)


def create_alert(stack: LocalStack, token: str, symbol: str, condition: str, threshold: float) -> int:
    body = {"symbol": symbol, "alert_type": "price", "condition": condition, "threshold": threshold}
    status, _, created = stack.http("POST", "/api/v1/alerts", token=token, json=body)
    assert status == 201, created
    return int(created["id"])


def alert(stack: LocalStack, token: str, alert_id: int) -> dict[str, Any]:
    status, _, page = stack.http("GET", "/api/v1/alerts", token=token, query={"status": "all"})
    assert status == 200
    return next(a for a in page["items"] if a["id"] == alert_id)


def events(stack: LocalStack, token: str, alert_id: int) -> list[dict[str, Any]]:
    status, _, page = stack.http("GET", f"/api/v1/alerts/{alert_id}/events", token=token)
    assert status == 200, page
    return list(page["items"])


def test_two_crossing_quotes_racing_fire_the_alert_once(
    stack: LocalStack,
    realtime: LocalRealtime,
    owner: tuple[str, str],
    symbol: str,
    ingest: Callable[..., Any],
    deliveries: Deliveries,
) -> None:
    user, token = owner
    alert_id = create_alert(stack, token, symbol, "above", 100)
    with client(realtime, user) as ws:
        subscribe(ws, f"user:{user}")
        start = threading.Barrier(2)

        def put(last: float, seconds_ago: float) -> None:
            start.wait(timeout=10)
            ingest(symbol, last, seconds_ago)

        racers = [threading.Thread(target=put, args=args) for args in ((105.0, 1), (110.0, 0))]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=30)
        realtime.settle()
        deliveries.drain()

        assert deliveries.alert_records.count(alert_id) == 1, "the symbol's object sent the crossing twice"
        assert alert(stack, token, alert_id)["status"] == "triggered"
        assert len(events(stack, token, alert_id)) == 1
        frame = receive(ws)
        assert frame["channel"] == f"user:{user}"
        assert frame["data"]["type"] == "alert_triggered"
        assert (frame["data"]["alert_id"], frame["data"]["symbol"]) == (alert_id, symbol)
        assert frame["data"]["current_value"] in (105.0, 110.0)

        # Later quotes, and the hourly intraday job, find the alert no longer active.
        ingest(symbol, 120.0)
        realtime.settle()
        run = run_job(stack.env, "intraday", datetime.now(UTC), trigger="manual")
        assert alert_id not in run.execution.metadata["triggered"]
        deliveries.drain()
        assert deliveries.alert_records.count(alert_id) == 1
        assert len(events(stack, token, alert_id)) == 1
        assert nothing_more(ws)


def test_the_sql_guard_fires_an_alert_once_even_for_two_messages(
    stack: LocalStack, realtime: LocalRealtime, owner: tuple[str, str], symbol: str, deliveries: Deliveries
) -> None:
    """Two crossings under different ids (real time's and the intraday job's): the UPDATE of an active alert wins
    once."""
    user, token = owner
    alert_id = create_alert(stack, token, symbol, "below", 50)
    crossing = {"userId": user, "alertId": alert_id, "symbol": symbol, "condition": "price below 50"}
    stack.env.ANALYSIS_QUEUE.send_batch(
        [
            {"body": {"type": "alert_triggered", "id": f"price-alert:{alert_id}", "currentValue": 49.0, **crossing}},
            {"body": {"type": "alert_triggered", "id": f"intraday-test-{alert_id}", "currentValue": 48.0, **crossing}},
        ]
    )
    with client(realtime, user) as ws:
        subscribe(ws, f"user:{user}")
        deliveries.drain()
        assert len(events(stack, token, alert_id)) == 1
        assert receive(ws)["data"]["alert_id"] == alert_id
        assert nothing_more(ws), "the second message pushed a frame for an alert that did not fire again"


def test_a_quote_that_crosses_nothing_fires_nothing(
    stack: LocalStack,
    realtime: LocalRealtime,
    owner: tuple[str, str],
    symbol: str,
    ingest: Callable[..., Any],
    deliveries: Deliveries,
) -> None:
    _, token = owner
    alert_id = create_alert(stack, token, symbol, "above", 100)
    ingest(symbol, 99.99)
    realtime.settle()
    deliveries.drain()
    assert alert_id not in deliveries.alert_records
    assert alert(stack, token, alert_id)["status"] == "active"


def test_a_price_no_alert_event_could_record_fires_nothing(
    stack: LocalStack,
    realtime: LocalRealtime,
    owner: tuple[str, str],
    symbol: str,
    ingest: Callable[..., Any],
    deliveries: Deliveries,
) -> None:
    # numeric(18, 6): a message carrying 10^12 would fail its event's insert on every delivery, until the DLQ.
    _, token = owner
    alert_id = create_alert(stack, token, symbol, "above", 100)
    ingest(symbol, 1e12)
    realtime.settle()
    deliveries.drain()
    assert alert_id not in deliveries.alert_records
    assert alert(stack, token, alert_id)["status"] == "active"


def test_a_quote_older_than_one_evaluated_changes_nothing(
    stack: LocalStack, realtime: LocalRealtime, owner: tuple[str, str], symbol: str, deliveries: Deliveries
) -> None:
    user, token = owner
    alert_id = create_alert(stack, token, symbol, "above", 100)
    alerts = [{"id": alert_id, "user_id": user, "condition": "above", "threshold": "100"}]
    now = datetime.now(UTC)
    prices = realtime.host.namespace("PRICE_ALERT").get_by_name(symbol)
    assert prices.evaluate({"symbol": symbol, "last": 90.0, "updated_at": now.isoformat()}, alerts) == []
    stale = {"symbol": symbol, "last": 150.0, "updated_at": (now - timedelta(seconds=5)).isoformat()}
    assert prices.evaluate(stale, alerts) == [], "a stale quote fired an alert"
    fresh = {"symbol": symbol, "last": 101.0, "updated_at": (now + timedelta(seconds=1)).isoformat()}
    assert prices.evaluate(fresh, alerts) == [alert_id]
    assert prices.evaluate(fresh, alerts) == [], "sent twice"
    deliveries.drain()
    assert deliveries.alert_records.count(alert_id) == 1
    assert alert(stack, token, alert_id)["status"] == "triggered"

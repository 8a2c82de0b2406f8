"""Connect tickets: issued by POST /api/v1/realtime/ticket to a signed-in caller, good for one connection within 60
seconds, refused at $connect when expired, reused, forged or missing (no upgrade, nothing written)."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.aws_calls import CallCounter
from local.realtime import LocalRealtime
from local.stack import LocalStack
from tests.conftest import Clock
from tests.integration.realtime.conftest import receive, subscribe


def refused_status(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=10):
        pass
    return refused.value.response.status_code


def test_a_signed_in_caller_gets_a_ticket_that_opens_one_connection(stack: LocalStack, user: str) -> None:
    # The stack's own functions throughout: the api issues, the connect authorizer redeems, the realtime function
    # and the durable host take the connection, and a quote PUT through the api reaches it.
    status, _, body = stack.http("POST", "/api/v1/realtime/ticket", token=stack.token_for(user))
    assert status == 201, body
    assert set(body) == {"ticket", "url", "expires_at"}
    assert body["url"] == f"{stack.websocket_url}?ticket={body['ticket']}"
    expires = datetime.fromisoformat(body["expires_at"])
    assert 55 <= (expires - datetime.now(UTC)).total_seconds() <= 60
    symbol = "T" + secrets.token_hex(3)[:5].upper()
    with connect(body["url"], open_timeout=10) as ws:
        subscribe(ws, f"quotes:{symbol}")
        quote = {"symbol": symbol, "last": 12.5, "updated_at": datetime.now(UTC).isoformat()}
        feed = stack.token_for("quote-feed", scopes=["service"])
        assert stack.http("PUT", "/api/v1/quotes", token=feed, json={"quotes": [quote]})[0] == 200
        assert receive(ws)["data"]["last"] == 12.5
    assert refused_status(body["url"]) == 401, "a ticket opened a second connection"
    # Only the ticket's digest is kept: nothing in the table connects.
    table = stack.functions["api"].environ["TTAI_CONNECTIONS_TABLE"]  # type: ignore[index]
    items = stack.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    assert body["ticket"] not in str(items)


def test_no_ticket_without_a_session(stack: LocalStack) -> None:
    status, _, _ = stack.http("POST", "/api/v1/realtime/ticket")
    assert status == 403  # the authorizer denies a request with neither a bearer token nor a session cookie


def test_an_expired_ticket_is_refused(realtime: LocalRealtime, user: str, clock: Clock) -> None:
    url = realtime.ticket_url(user)
    clock.travel(60)
    assert refused_status(url) == 401


def test_a_ticket_still_valid_in_its_last_second_connects(realtime: LocalRealtime, user: str, clock: Clock) -> None:
    url = realtime.ticket_url(user)
    clock.travel(59)
    with connect(url, open_timeout=10) as ws:
        subscribe(ws, "jobs")


def test_forged_malformed_and_missing_tickets_are_refused_before_any_upgrade(
    realtime: LocalRealtime, user: str
) -> None:
    base = realtime.gateway.url
    forged = secrets.token_urlsafe(32)  # shaped like a ticket, never issued
    with CallCounter(realtime.tickets.dynamodb) as calls:
        assert refused_status(f"{base}?ticket={forged}") == 401
    assert calls.by_operation() == {"DeleteItem": 1}
    with CallCounter(realtime.tickets.dynamodb) as calls:
        assert refused_status(f"{base}?ticket=not-a-ticket") == 401
        assert refused_status(base) == 401  # no identity source: the authorizer is never called
    assert calls.total == 0


def test_of_connects_racing_with_one_ticket_exactly_one_gets_in(realtime: LocalRealtime, user: str) -> None:
    url = realtime.ticket_url(user)
    start = threading.Barrier(6)
    outcomes: list[Any] = []

    def attempt() -> None:
        start.wait(timeout=10)
        try:
            with connect(url, open_timeout=10):
                outcomes.append(101)
                time.sleep(0.2)
        except InvalidStatus as exc:
            outcomes.append(exc.response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [101, 401, 401, 401, 401, 401]


def test_issuing_is_one_write_and_redeeming_one_conditional_delete(realtime: LocalRealtime, user: str) -> None:
    with CallCounter(realtime.tickets.dynamodb) as calls:
        ticket = realtime.tickets.issue(user)
    assert calls.by_operation() == {"PutItem": 1}
    with CallCounter(realtime.tickets.dynamodb) as calls:
        assert realtime.tickets.redeem(ticket.ticket) == user
        assert realtime.tickets.redeem(ticket.ticket) is None
    assert calls.by_operation() == {"DeleteItem": 2}

"""Seed 000's pub/sub over real WebSockets: tickets in, subscribe frames, channel frames out, refusals as error
frames, the 410 clean-up, and what a publish costs."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local.realtime import LocalRealtime
from local.stack import LocalStack
from tests.integration.realtime.conftest import (
    ThreadCalls,
    client,
    eventually,
    nothing_more,
    receive,
    send,
    subscribe,
)
from ttai.http import deps
from ttai.realtime import routes
from ttai.services.cache import CacheService
from ttai.services.market import MarketDataService


def new_symbol() -> str:
    return "Q" + uuid.uuid4().hex[:5].upper()


def quote(symbol: str, last: float) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "last": last,
        "bid": last - 0.01,
        "ask": last + 0.01,
        "updated_at": "2026-11-20T15:00:00Z",
    }


@pytest.fixture
def ingest(stack: LocalStack, realtime: LocalRealtime, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """PUT /api/v1/quotes through the gateway, the authorizer and the api function, whose market service hands
    each batch to the realtime function as the deployed wiring will."""
    service = MarketDataService(CacheService(stack.env.KV), realtime=realtime.quote_hand_off())
    monkeypatch.setattr(deps, "market", lambda: service)
    feed = stack.token_for("quote-feed", scopes=["service"])

    def put(*quotes: dict[str, Any]) -> Any:
        status, _, body = stack.http("PUT", "/api/v1/quotes", token=feed, json={"quotes": list(quotes)})
        assert status == 200, body
        return body

    return put


def test_a_subscriber_receives_each_quote_of_its_channel_and_nothing_else(
    realtime: LocalRealtime, user: str, ingest: Callable[..., Any]
) -> None:
    watched, other = new_symbol(), new_symbol()
    with client(realtime, user) as ws:
        subscribe(ws, f"quotes:{watched}")
        before = time.time() * 1000
        assert ingest(quote(watched, 101.5), quote(other, 7.0)) == {"stored": 2}
        frame = receive(ws)
        assert frame["channel"] == f"quotes:{watched}"
        assert frame["data"]["symbol"] == watched
        assert frame["data"]["last"] == 101.5
        assert before - 1000 <= frame["timestamp"] <= time.time() * 1000 + 1000
        assert set(frame) == {"channel", "data", "timestamp"}
        realtime.settle()
        assert nothing_more(ws), "a quote of a channel it did not subscribe to reached the client"


def test_a_symbol_is_subscribed_in_its_canonical_form(realtime: LocalRealtime, user: str) -> None:
    symbol = new_symbol()
    with client(realtime, user) as ws:
        send(ws, "subscribe", f"quotes:{symbol.lower()}")
        assert receive(ws) == {"type": "subscribed", "channels": [f"quotes:{symbol}"]}
        assert realtime.realtime.publisher.publish(f"quotes:{symbol}", {"last": 1}) == 1
        assert receive(ws)["channel"] == f"quotes:{symbol}"


def test_channels_a_user_may_not_have_get_an_error_frame_and_no_subscription(
    realtime: LocalRealtime, user: str
) -> None:
    stranger = f"{user}-stranger"
    with client(realtime, user) as ws, client(realtime, stranger) as theirs:
        subscribe(theirs, f"user:{stranger}")
        send(ws, "subscribe", f"user:{stranger}", "news:AAPL", "quotes:not a symbol", f"user:{user}", "jobs", 7)
        assert receive(ws) == {"type": "subscribed", "channels": [f"user:{user}", "jobs"]}
        refused = [receive(ws) for _ in range(4)]
        assert [(f["channel"], f["error"]["code"]) for f in refused] == [
            (f"user:{stranger}", "forbidden"),
            ("news:AAPL", "unknown_channel"),
            ("quotes:not a symbol", "unknown_channel"),
            ("7", "unknown_channel"),
        ]
        assert all(f["type"] == "error" and f["error"]["message"] for f in refused)
        # The stranger's channel reaches the stranger only.
        assert realtime.realtime.publisher.publish(f"user:{stranger}", {"secret": True}) == 1
        assert receive(theirs)["data"] == {"secret": True}
        assert nothing_more(ws)


def test_unsubscribing_stops_the_frames_of_that_channel_only(realtime: LocalRealtime, user: str) -> None:
    kept, left = new_symbol(), new_symbol()
    publisher = realtime.realtime.publisher
    with client(realtime, user) as ws:
        subscribe(ws, f"quotes:{kept}", f"quotes:{left}")
        send(ws, "unsubscribe", f"quotes:{left}")
        assert receive(ws) == {"type": "unsubscribed", "channels": [f"quotes:{left}"]}
        assert publisher.publish(f"quotes:{left}", {"last": 1}) == 0
        assert publisher.publish(f"quotes:{kept}", {"last": 2}) == 1
        assert receive(ws)["channel"] == f"quotes:{kept}"
        assert nothing_more(ws)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "frames are JSON"),
        (json.dumps({"action": "publish", "channels": ["jobs"]}), "the action is"),
        (json.dumps({"action": "subscribe", "channels": []}), "non-empty list"),
        (json.dumps({"action": "subscribe", "channels": ["jobs"] * 51}), "at most 50"),
    ],
)
def test_a_frame_that_cannot_be_read_gets_an_error_frame(
    realtime: LocalRealtime, user: str, frame: str, reason: str
) -> None:
    with client(realtime, user) as ws:
        ws.send(frame)
        answer = receive(ws)
        assert answer["type"] == "error"
        assert answer["error"]["code"] == "bad_request"
        assert reason in answer["error"]["message"]


def test_a_connection_subscribes_to_at_most_50_channels(realtime: LocalRealtime, user: str) -> None:
    symbols = [new_symbol() for _ in range(51)]
    with client(realtime, user) as ws:
        send(ws, "subscribe", *(f"quotes:{s}" for s in symbols[:50]))
        assert len(receive(ws)["channels"]) == 50
        send(ws, "subscribe", f"quotes:{symbols[50]}")
        refused = receive(ws)
        assert (refused["channel"], refused["error"]["code"]) == (f"quotes:{symbols[50]}", "too_many_channels")


def test_disconnecting_removes_the_connection_from_every_channel(realtime: LocalRealtime, user: str) -> None:
    channels = [f"quotes:{new_symbol()}", "jobs"]
    hub = realtime.hub
    with client(realtime, user) as ws:
        subscribe(ws, *channels)
        connection_id = _connection_of(realtime, user)
    assert eventually(lambda: hub.connection(connection_id) is None), "$disconnect left the connection behind"
    assert realtime.realtime.publisher.publish(channels[0], {"last": 1}) == 0


def test_a_vanished_client_is_forgotten_on_the_next_send(
    realtime: LocalRealtime, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API Gateway's $disconnect is best effort: when it never came, the next post answers 410 and cleans up."""
    channel = f"quotes:{new_symbol()}"
    hub = realtime.hub
    delivered: list[dict[str, Any]] = []
    deliver = hub.deliver
    assert deliver is not None

    def recording(event: dict[str, Any]) -> None:
        delivered.append(event)
        deliver(event)

    monkeypatch.setattr(hub, "deliver", recording)
    monkeypatch.setattr(routes, "on_disconnect", lambda event, realtime: routes.OK)  # the $disconnect that never came
    with client(realtime, user) as ws:
        subscribe(ws, channel)
        connection_id = _connection_of(realtime, user)
    assert eventually(lambda: connection_id not in realtime.gateway.connection_ids())
    assert hub.connection(connection_id) is not None, "nothing cleaned up yet: the rows are still there"

    assert realtime.realtime.publisher.publish(channel, {"last": 1}) == 1  # sent to one: it answered 410
    realtime.settle()
    assert hub.connection(connection_id) is None
    assert realtime.realtime.publisher.publish(channel, {"last": 2}) == 0
    assert [(e["event"], e["connection_id"], e["code"], e["was_clean"]) for e in delivered] == [
        ("close", connection_id, 1006, False)
    ]
    assert delivered[0]["attachment"] is not None  # the home's view of it, as it last held it
    assert json.loads(delivered[0]["attachment"])["channels"] == [channel]


def test_a_publish_costs_one_query_page_and_one_post_per_subscriber(realtime: LocalRealtime, user: str) -> None:
    channel = f"quotes:{new_symbol()}"
    quiet = f"quotes:{new_symbol()}"
    with contextlib.ExitStack() as opened:
        clients = [opened.enter_context(client(realtime, f"{user}-{n}")) for n in range(3)]
        for ws in clients:
            subscribe(ws, channel)
        realtime.settle()
        posted = posts_made(realtime)
        with ThreadCalls(realtime.dynamodb) as dynamodb:
            assert realtime.realtime.publisher.publish(channel, {"last": 1}) == 3
        assert posts_made(realtime) - posted == 3
        # Which channels have subscribers (1), the object's lease taken and released (2), its sockets (1 page).
        assert dynamodb.by_operation() == {"BatchGetItem": 1, "UpdateItem": 2, "Query": 1}
        assert all(receive(ws)["data"] == {"last": 1} for ws in clients)

        posted = posts_made(realtime)
        with ThreadCalls(realtime.dynamodb) as dynamodb:
            assert realtime.realtime.publisher.publish(quiet, {"last": 1}) == 0
        assert (dynamodb.by_operation(), posts_made(realtime) - posted) == ({"BatchGetItem": 1}, 0)  # no object call


def test_job_runs_reach_every_subscriber_of_jobs(realtime: LocalRealtime, user: str) -> None:
    with client(realtime, user) as ws:
        subscribe(ws, "jobs")
        realtime.user_events().job_finished({"id": 7, "job_type": "intraday", "status": "success"})
        frame = receive(ws)
        assert frame["channel"] == "jobs"
        assert frame["data"] == {"type": "job_run", "id": 7, "job_type": "intraday", "status": "success"}


def posts_made(realtime: LocalRealtime) -> int:
    assert realtime.management is not None
    return realtime.management.requests["PostToConnection"]


def _connection_of(realtime: LocalRealtime, user_id: str) -> str:
    """The connection id of ``user_id``'s only connection, as the connections table holds it."""
    lay = realtime.stack.layout.websockets
    items = realtime.dynamodb.scan(
        TableName=realtime.connections_table,
        FilterExpression="#user = :user",
        ExpressionAttributeNames={"#user": "user"},
        ExpressionAttributeValues={":user": {"S": user_id}},
        ConsistentRead=True,
    )["Items"]
    ids = [str(item[lay.partition_attr]["S"]).removeprefix("conn#") for item in items]
    assert len(ids) == 1, ids
    return ids[0]

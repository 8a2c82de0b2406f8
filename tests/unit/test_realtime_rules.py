"""Real-time rules that need no AWS: channels and who may have them, market hours, client frames, what crosses RPC
as a WebSocket, and Cloudflare's WebSocket limits (checked before any request: the fakes refuse every call)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ttai.bindings.durable import (
    AttachmentTooLarge,
    InvalidWebSocket,
    MessageTooLarge,
    UnsupportedClose,
    UnsupportedValue,
    codec,
)
from ttai.bindings.durable.connections import ConnectionHub
from ttai.bindings.durable.ids import IdFactory
from ttai.bindings.durable.websocket import ObjectSockets, WebSocket
from ttai.messages import AlertTriggered, AnalysisComplete, Notification
from ttai.models.market import Quote
from ttai.realtime.channels import Refusal, resolve
from ttai.realtime.portfolio import market_open, next_minute_ms
from ttai.realtime.publish import QuoteHandOff, frame_data, job_frame
from ttai.realtime.pubsub import frame
from ttai.realtime.tickets import TicketOffice


class Refuses:
    """A client whose every call fails the test: what is checked must be checked before any request."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was called: the input should have been refused first")


def hub() -> ConnectionHub:
    refuses: Any = Refuses()
    return ConnectionHub("connections", dynamodb=refuses, management=refuses)


def sockets() -> ObjectSockets:
    object_id = IdFactory("ROOM").from_name("lobby")
    return ObjectSockets(hub(), object_id, f"ROOM#{object_id}")


# ------------------------------------------------------------------------------------------------------ channels


@pytest.mark.parametrize(
    ("asked", "user", "expected"),
    [
        ("quotes:AAPL", "alice", "quotes:AAPL"),
        ("quotes:brk.b", "alice", "quotes:BRK.B"),
        ("quotes:SPY   250117P00500000", "alice", "quotes:SPY   250117P00500000"),
        ("jobs", "alice", "jobs"),
        ("user:alice", "alice", "user:alice"),
        ("user:alice:bob", "alice:bob", "user:alice:bob"),
    ],
)
def test_channels_a_user_may_subscribe_to(asked: str, user: str, expected: str) -> None:
    assert resolve(asked, user) == expected


@pytest.mark.parametrize(
    ("asked", "user", "code"),
    [
        ("user:bob", "alice", "forbidden"),
        ("user:alice", "alice:bob", "forbidden"),
        ("user:alice:bob", "alice", "forbidden"),
        ("user:", "alice", "forbidden"),
        ("quotes:", "alice", "unknown_channel"),
        ("quotes:not a symbol", "alice", "unknown_channel"),
        ("quotes:ÄPFEL", "alice", "unknown_channel"),
        ("Jobs", "alice", "unknown_channel"),
        ("", "alice", "unknown_channel"),
        (None, "alice", "unknown_channel"),
        ("x" * 161, "alice", "unknown_channel"),
    ],
)
def test_other_channels_are_refused_with_a_reason(asked: Any, user: str, code: str) -> None:
    refused = resolve(asked, user)
    assert isinstance(refused, Refusal)
    assert refused.code == code
    assert refused.message


def test_a_frame_is_seed_000s_message() -> None:
    sent = json.loads(frame("quotes:AAPL", {"last": 1.5}))
    assert set(sent) == {"channel", "data", "timestamp"}
    assert (sent["channel"], sent["data"]) == ("quotes:AAPL", {"last": 1.5})
    assert abs(sent["timestamp"] - datetime.now(UTC).timestamp() * 1000) < 5_000


# -------------------------------------------------------------------------------------------------- market hours


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2026, 3, 10, 13, 29, 59, tzinfo=UTC), False),  # 09:29:59 EDT
        (datetime(2026, 3, 10, 13, 30, tzinfo=UTC), True),  # 09:30 EDT
        (datetime(2026, 3, 10, 19, 59, 59, tzinfo=UTC), True),  # 15:59:59 EDT
        (datetime(2026, 3, 10, 20, 0, tzinfo=UTC), False),  # 16:00 EDT
        (datetime(2026, 3, 6, 14, 30, tzinfo=UTC), True),  # 09:30 EST, before the clocks change
        (datetime(2026, 3, 6, 14, 29, tzinfo=UTC), False),
        (datetime(2026, 3, 14, 15, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 4, 3, 15, 0, tzinfo=UTC), False),  # Good Friday
        (datetime(2026, 7, 3, 15, 0, tzinfo=UTC), False),  # Independence Day, observed
    ],
)
def test_the_session_is_0930_to_1600_new_york_time_on_trading_days(moment: datetime, is_open: bool) -> None:
    assert market_open(moment) is is_open


def test_the_monitor_runs_on_whole_minutes() -> None:
    assert next_minute_ms(1_800_000_000_000) == 1_800_000_060_000
    assert next_minute_ms(1_800_000_000_001) == 1_800_000_060_000
    assert next_minute_ms(1_800_000_059_999) == 1_800_000_060_000


# ----------------------------------------------------------------------------------------- WebSockets and RPC


def test_a_websocket_crosses_an_rpc_call_as_its_connection_and_is_never_stored() -> None:
    ws = WebSocket(hub(), "L0SM9cOFvHcCIhw=")
    assert codec.to_tree([ws, {"$ws": "not a socket"}], websockets=True) == [
        {"$ws": "L0SM9cOFvHcCIhw="},
        {"$o": {"$ws": "not a socket"}},
    ]
    tree = codec.to_tree([ws, {"$ws": "not a socket"}], websockets=True)
    received = codec.from_tree(tree, websocket=lambda cid: ("handle", cid))
    assert received == [("handle", "L0SM9cOFvHcCIhw="), {"$ws": "not a socket"}]
    with pytest.raises(UnsupportedValue, match="cannot be stored"):
        codec.dumps({"socket": ws})
    with pytest.raises(UnsupportedValue, match="gateway"):
        codec.from_tree({"$ws": "x"})


def test_sends_over_128_kb_and_closes_api_gateway_cannot_make_are_refused_before_any_request() -> None:
    ws = sockets().handle("c1")
    with pytest.raises(MessageTooLarge, match="128 KB"):
        ws.send("x" * (128 * 1024 + 1))
    with pytest.raises(InvalidWebSocket):
        ws.send(42)  # type: ignore[arg-type]
    for code, reason in ((1011, None), (4000, None), (1000, "bye"), (None, "bye")):
        with pytest.raises(UnsupportedClose, match="1000"):
            ws.close(code, reason)


def test_an_attachment_is_at_most_2048_bytes_serialized() -> None:
    ws = WebSocket(hub(), "c1")  # held by no object: kept on the handle until one accepts it
    ws.serialize_attachment("é" * 1020)  # 2,042 bytes of JSON
    assert ws.deserialize_attachment() == "é" * 1020
    with pytest.raises(AttachmentTooLarge, match="2048"):
        ws.serialize_attachment("é" * 1030)
    assert ws.deserialize_attachment() == "é" * 1020  # the refused value changed nothing
    with pytest.raises(UnsupportedValue):
        ws.serialize_attachment({1, 2})


@pytest.mark.parametrize(
    "tags",
    [
        [f"t{n}" for n in range(11)],
        ["t" * 257],
        [""],
        [7],
        "player",
    ],
)
def test_tags_outside_cloudflares_rules_are_refused_before_any_request(tags: Any) -> None:
    view = sockets()
    with pytest.raises(InvalidWebSocket):
        view.accept_websocket(view.handle("c1"), tags)


def test_only_websockets_are_accepted_and_a_tag_filter_is_text() -> None:
    view = sockets()
    with pytest.raises(InvalidWebSocket):
        view.accept_websocket("c1")
    with pytest.raises(InvalidWebSocket):
        view.get_websockets(7)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------- tickets, publish


def test_a_string_not_shaped_like_a_ticket_costs_no_request() -> None:
    office = TicketOffice("connections", dynamodb=Refuses(), websocket_url="wss://example.com/prod")
    for ticket in (None, "", "short", "x" * 43 + "=", "a" * 42 + "/", 42):
        assert office.redeem(ticket) is None
    with pytest.raises(ValueError, match="wss://"):
        TicketOffice("connections", dynamodb=Refuses(), websocket_url="https://example.com")


def test_a_failing_hand_off_never_fails_the_ingest() -> None:
    def broken(event: dict[str, Any]) -> None:
        raise ConnectionError("the realtime function is unreachable")

    quote = Quote(symbol="AAPL", last=1.0, updated_at=datetime(2026, 11, 20, 15, tzinfo=UTC))
    QuoteHandOff(broken).quotes_ingested([quote])  # logged, not raised


def test_what_each_handled_message_tells_its_user() -> None:
    fired = AlertTriggered(user_id="alice", alert_id=3, symbol="AAPL", condition="price above 200", current_value=201)
    assert frame_data(fired, {"triggered": True, "event_id": 9}) == {
        "type": "alert_triggered",
        "alert_id": 3,
        "symbol": "AAPL",
        "condition": "price above 200",
        "current_value": 201,
        "event_id": 9,
    }
    assert frame_data(fired, {"triggered": False, "notifications": 0}) is None
    done = AnalysisComplete(user_id="alice", symbol="AAPL", recommendation="buy", workflow_id="w1")
    assert frame_data(done, {"notifications": 1}) == {
        "type": "analysis_complete",
        "symbol": "AAPL",
        "recommendation": "buy",
        "workflow_id": "w1",
    }
    note = Notification(user_id="alice", channel="push", title="t", body="b")
    assert frame_data(note, {}) is None


def test_a_job_run_is_told_once_whoever_invoked_it() -> None:
    summary = {"id": 7, "job_type": "intraday", "status": "success", "ran": True}
    assert job_frame(summary) == {"type": "job_run", "id": 7, "job_type": "intraday", "status": "success"}
    assert job_frame({**summary, "ran": False}) is None  # a duplicate invocation found the run done

"""The hibernation WebSocket API end to end: an object built afresh for every event still finds its sockets, their
tags and attachments, and its storage; handlers get messages and closes; Cloudflare's limits, and what API Gateway
cannot do, refused."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection

from local.realtime import LocalRealtime
from local.stack import LocalStack
from tests.integration.realtime.conftest import client, eventually, receive
from ttai.bindings.durable import (
    AttachmentTooLarge,
    DurableObject,
    DurableObjectState,
    InvalidWebSocket,
    MessageTooLarge,
    UnsupportedClose,
)


class Room(DurableObject):
    """A chat room: every player's connection, tagged with its user; commands as JSON frames."""

    def __init__(self, ctx: DurableObjectState, env: Any) -> None:
        super().__init__(ctx, env)
        self.events_seen = 0  # a field: back to 0 in every new instance

    def connect(self, ws: Any, user_id: str) -> None:
        ws.serialize_attachment({"user": user_id})
        self.ctx.accept_websocket(ws, ["player", f"user:{user_id}"])

    def web_socket_message(self, ws: Any, message: str) -> None:
        self.events_seen += 1
        stored = (self.ctx.storage.get("messages") or 0) + 1
        self.ctx.storage.put("messages", stored)
        command = json.loads(message)
        action = command["do"]
        if action == "echo":
            ws.send(
                json.dumps(
                    {
                        "field": self.events_seen,
                        "stored": stored,
                        "tags": self.ctx.get_tags(ws),
                        "attachment": ws.deserialize_attachment(),
                    }
                )
            )
        elif action == "tell":
            for other in self.ctx.get_websockets(command["tag"]):
                other.send(json.dumps({"from": ws.deserialize_attachment()["user"], "text": command["text"]}))
        elif action == "attach":
            ws.serialize_attachment(command["value"])
            ws.send(json.dumps({"attached": ws.deserialize_attachment()}))
        elif action == "leave":
            ws.close()
        else:
            ws.send(json.dumps({"refused": self._misuse(ws, action)}))

    def _misuse(self, ws: Any, action: str) -> str:
        attempts: dict[str, Callable[[], None]] = {
            "close 1011": lambda: ws.close(1011, "server error"),
            "big attachment": lambda: ws.serialize_attachment("x" * 2100),
            "eleven tags": lambda: self.ctx.accept_websocket(ws, [f"t{n}" for n in range(11)]),
            "long tag": lambda: self.ctx.accept_websocket(ws, ["t" * 257]),
            "accept twice": lambda: self.ctx.accept_websocket(ws),
            "big message": lambda: ws.send("x" * (128 * 1024 + 1)),
        }
        try:
            attempts[action]()
        except (InvalidWebSocket, AttachmentTooLarge, UnsupportedClose, MessageTooLarge) as exc:
            return type(exc).__name__
        return "nothing"

    def web_socket_close(self, ws: Any, code: int, reason: str, was_clean: bool) -> None:
        closes = self.ctx.storage.get("closes") or []
        self.ctx.storage.put("closes", [*closes, [code, reason, was_clean, ws.deserialize_attachment()]])

    def closes(self) -> list[Any]:
        return list(self.ctx.storage.get("closes") or [])

    def players(self, tag: str | None = None) -> list[Any]:
        return sorted(ws.deserialize_attachment()["user"] for ws in self.ctx.get_websockets(tag))


@pytest.fixture(scope="module")
def rooms(stack: LocalStack) -> Iterator[LocalRealtime]:
    """A host whose connections belong to a Room, chosen by the part of the user id before the dot."""
    with LocalRealtime(
        stack, classes={"ROOM": Room}, home=lambda env, user: env.ROOM.get_by_name(user.split(".")[0])
    ) as local:
        yield local


@pytest.fixture
def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def command(ws: ClientConnection, action: str, **fields: Any) -> None:
    ws.send(json.dumps({"do": action, **fields}))


def test_each_event_meets_a_fresh_object_that_keeps_its_storage_sockets_tags_and_attachments(
    rooms: LocalRealtime, room: str
) -> None:
    with client(rooms, f"{room}.alice") as alice:
        command(alice, "echo")
        first = receive(alice)
        command(alice, "echo")
        second = receive(alice)
    assert (first["field"], second["field"]) == (1, 1), "an instance field carried over between events"
    assert (first["stored"], second["stored"]) == (1, 2)
    assert second["tags"] == ["player", f"user:{room}.alice"]
    assert second["attachment"] == {"user": f"{room}.alice"}


def test_tags_pick_sockets_and_an_attachment_changed_in_one_event_is_read_in_the_next(
    rooms: LocalRealtime, room: str
) -> None:
    with client(rooms, f"{room}.alice") as alice, client(rooms, f"{room}.bob") as bob:
        lobby = rooms.host.namespace("ROOM").get_by_name(room)
        assert lobby.players() == [f"{room}.alice", f"{room}.bob"]
        assert lobby.players(f"user:{room}.bob") == [f"{room}.bob"]
        command(alice, "tell", tag=f"user:{room}.bob", text="psst")
        assert receive(bob) == {"from": f"{room}.alice", "text": "psst"}
        command(alice, "tell", tag="player", text="hello all")
        assert receive(alice) == receive(bob) == {"from": f"{room}.alice", "text": "hello all"}
        command(bob, "attach", value={"user": f"{room}.bob", "team": "red"})
        # Each message is its own invocation, as on API Gateway: the next waits for this one's answer.
        assert receive(bob) == {"attached": {"user": f"{room}.bob", "team": "red"}}
        command(bob, "echo")
        assert receive(bob)["attachment"] == {"user": f"{room}.bob", "team": "red"}


def test_a_client_close_reaches_web_socket_close_with_the_socket_as_held(rooms: LocalRealtime, room: str) -> None:
    lobby = rooms.host.namespace("ROOM").get_by_name(room)
    with client(rooms, f"{room}.alice") as alice:
        command(alice, "attach", value={"user": f"{room}.alice", "score": 3})
        assert receive(alice) == {"attached": {"user": f"{room}.alice", "score": 3}}  # stored before the close
        alice.close(code=4000, reason="bye")
    assert eventually(lobby.closes) == [[4000, "bye", True, {"user": f"{room}.alice", "score": 3}]]
    assert lobby.players() == []


def test_an_object_closes_a_connection_with_1000_only(rooms: LocalRealtime, room: str) -> None:
    with client(rooms, f"{room}.alice") as alice:
        command(alice, "close 1011")
        assert receive(alice) == {"refused": "UnsupportedClose"}
        command(alice, "leave")
        with pytest.raises(ConnectionClosed) as closed:
            alice.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1000


@pytest.mark.parametrize(
    ("misuse", "error"),
    [
        ("big attachment", "AttachmentTooLarge"),
        ("eleven tags", "InvalidWebSocket"),
        ("long tag", "InvalidWebSocket"),
        ("accept twice", "InvalidWebSocket"),
        ("big message", "MessageTooLarge"),
    ],
)
def test_cloudflares_limits_are_refused_and_leave_the_socket_as_it_was(
    rooms: LocalRealtime, room: str, misuse: str, error: str
) -> None:
    with client(rooms, f"{room}.alice") as alice:
        command(alice, misuse)
        assert receive(alice) == {"refused": error}
        command(alice, "echo")
        state = receive(alice)
        assert (state["tags"], state["attachment"]) == (["player", f"user:{room}.alice"], {"user": f"{room}.alice"})


def test_a_connection_its_home_refuses_is_not_upgraded_and_leaves_nothing(stack: LocalStack) -> None:
    with LocalRealtime(stack, classes={"CLOSED": Closed}, home=lambda env, user: env.CLOSED.get_by_name(user)) as local:
        with pytest.raises(InvalidStatus) as refused, contextlib.closing(client(local, "someone")):
            pass
        assert refused.value.response.status_code == 500
        # The ticket used up, the connection's row removed again.
        assert local.dynamodb.scan(TableName=local.connections_table, ConsistentRead=True)["Items"] == []


class Closed(DurableObject):
    """A home that refuses every connection."""

    def connect(self, ws: Any, user_id: str) -> None:
        raise PermissionError("this room is closed")

"""Real time end to end: the session's LocalStack plus LocalRealtime (the local WebSocket gateway, the durable host
running ttai.realtime's classes, the connections table on moto), driven by `websockets` clients."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from local.aws_calls import CallCounter
from local.realtime import LocalRealtime
from local.stack import LocalStack

RECEIVE_SECONDS = 10.0


class ThreadCalls(CallCounter):
    """Calls the given clients make from this thread only: an in-process object call runs in its caller's thread,
    while the gateway's own work (an earlier test's $disconnect still running) does not."""

    def __init__(self, *clients: Any) -> None:
        super().__init__(*clients)
        self._thread = threading.get_ident()

    def _count(self, model: Any, **kwargs: Any) -> None:
        if threading.get_ident() == self._thread:
            super()._count(model, **kwargs)


@pytest.fixture(scope="session")
def realtime(stack: LocalStack) -> Iterator[LocalRealtime]:
    with LocalRealtime(stack) as local:
        yield local


@pytest.fixture
def user() -> str:
    return f"rt-{uuid.uuid4().hex[:10]}"


def client(realtime: LocalRealtime, user_id: str) -> ClientConnection:
    """A browser-like client: a ticket for ``user_id``, then the WebSocket."""
    return connect(realtime.ticket_url(user_id), open_timeout=RECEIVE_SECONDS)


def receive(ws: ClientConnection, timeout: float = RECEIVE_SECONDS) -> dict[str, Any]:
    frame = ws.recv(timeout=timeout)
    assert isinstance(frame, str), "frames are text"
    decoded: dict[str, Any] = json.loads(frame)
    return decoded


def send(ws: ClientConnection, action: str, *channels: Any) -> None:
    ws.send(json.dumps({"action": action, "channels": list(channels)}))


def subscribe(ws: ClientConnection, *channels: str) -> dict[str, Any]:
    """Subscribe and return the ack (every channel must be accepted)."""
    send(ws, "subscribe", *channels)
    ack = receive(ws)
    assert ack == {"type": "subscribed", "channels": list(channels)}, ack
    return ack


def nothing_more(ws: ClientConnection, within: float = 0.3) -> bool:
    """No frame arrives within ``within`` seconds."""
    try:
        ws.recv(timeout=within)
    except TimeoutError:
        return True
    return False


def eventually(check: Any, timeout: float = RECEIVE_SECONDS) -> Any:
    """``check()``'s first truthy answer, polled (for what the gateway does on its own threads, such as
    $disconnect)."""
    import time  # noqa: PLC0415 - monotonic only: tests may freeze time.time

    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)

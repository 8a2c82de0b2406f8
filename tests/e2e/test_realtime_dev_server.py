"""Real time against `make dev` as a process: tickets over HTTP, real WebSockets to its gateway, quotes PUT through
the api function reaching subscribers, price alerts fired once; every part the spec-built functions as deployed."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e.devserver import DevServer, call, running_dev_server
from ttai.auth.sessions import SessionStore
from ttai.env import Env
from ttai.realtime.tickets import TicketOffice

RECEIVE_SECONDS = 20.0  # the consumer's frames wait for the dev server's queue poll


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with running_dev_server(tmp_path_factory.mktemp("dev-realtime")) as server:
        yield server


@pytest.fixture(scope="module")
def stack_env(dev: DevServer) -> Iterator[Env]:
    """The running stack's variables, to mint sessions as `ttai token` does (boto3 reads AWS_* from the process)."""
    aws = {name: value for name, value in dev.state["environ"].items() if name.startswith("AWS_")}
    with mock.patch.dict(os.environ, aws):
        yield Env.from_environ(dev.state["environ"])


def token_for(env: Env, user_id: str, *scopes: str) -> str:
    return SessionStore(env).open(user_id, scopes=scopes).token


def ticket(dev: DevServer, token: str) -> dict[str, Any]:
    status, body = call(f"{dev.url}/api/v1/realtime/ticket", "POST", token)
    assert status == 201, body
    return dict(body)


def receive(ws: ClientConnection, timeout: float = RECEIVE_SECONDS) -> dict[str, Any]:
    frame = ws.recv(timeout=timeout)
    assert isinstance(frame, str)
    decoded: dict[str, Any] = json.loads(frame)
    return decoded


def refused(url: str) -> int:
    with pytest.raises(InvalidStatus) as refusal, connect(url, open_timeout=10):
        pass
    return refusal.value.response.status_code


def put_quote(dev: DevServer, symbol: str, last: float, seconds_ago: float = 0) -> None:
    at = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()
    quotes = [{"symbol": symbol, "last": last, "updated_at": at}]
    status, body = call(f"{dev.url}/api/v1/quotes", "PUT", dev.state["service_token"], {"quotes": quotes})
    assert (status, body) == (200, {"stored": 1})


def new_symbol() -> str:
    return "E" + uuid.uuid4().hex[:5].upper()


def test_make_dev_serves_the_websocket_api_and_a_ticket_opens_it_once(dev: DevServer, stack_env: Env) -> None:
    user = f"e2e-{uuid.uuid4().hex[:8]}"
    issued = ticket(dev, token_for(stack_env, user))
    assert issued["url"] == f"{dev.state['websocket_url']}?ticket={issued['ticket']}"
    symbol = new_symbol()
    with connect(issued["url"], open_timeout=10) as ws:
        ws.send(json.dumps({"action": "subscribe", "channels": [f"quotes:{symbol}", "user:someone-else"]}))
        answers = [receive(ws), receive(ws)]
        assert {"type": "subscribed", "channels": [f"quotes:{symbol}"]} in answers
        [error] = [a for a in answers if a["type"] == "error"]
        assert (error["channel"], error["error"]["code"]) == ("user:someone-else", "forbidden")

        started = time.monotonic()
        put_quote(dev, symbol, 101.25)
        frame = receive(ws)
        assert frame["channel"] == f"quotes:{symbol}"
        assert (frame["data"]["symbol"], frame["data"]["last"]) == (symbol, 101.25)
        assert time.monotonic() - started < RECEIVE_SECONDS
    assert refused(issued["url"]) == 401, "a used ticket opened a second connection"


def test_forged_and_expired_tickets_are_refused_at_connect(dev: DevServer, stack_env: Env) -> None:
    base = dev.state["websocket_url"]
    assert refused(f"{base}?ticket={'A' * 43}") == 401
    assert refused(base) == 401
    # A ticket issued 61 seconds ago, written as the api would have written it then.
    environ = dev.state["environ"]
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=environ["AWS_ENDPOINT_URL"],
        region_name=environ["AWS_REGION"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    office = TicketOffice(environ["TTAI_CONNECTIONS_TABLE"], dynamodb=dynamodb, websocket_url=base)
    with mock.patch("time.time", return_value=time.time() - 61):
        stale = office.issue(f"e2e-{uuid.uuid4().hex[:8]}")
    assert stack_env.settings.connections_table == environ["TTAI_CONNECTIONS_TABLE"]
    assert refused(stale.url) == 401


def test_two_crossing_quotes_racing_fire_the_alert_once(dev: DevServer, stack_env: Env) -> None:
    user = f"e2e-{uuid.uuid4().hex[:8]}"
    token = token_for(stack_env, user)
    symbol = new_symbol()
    body = {"symbol": symbol, "alert_type": "price", "condition": "above", "threshold": 100}
    status, created = call(f"{dev.url}/api/v1/alerts", "POST", token, body)
    assert status == 201, created
    alert_id = created["id"]
    with connect(ticket(dev, token)["url"], open_timeout=10) as ws:
        ws.send(json.dumps({"action": "subscribe", "channels": [f"user:{user}"]}))
        assert receive(ws) == {"type": "subscribed", "channels": [f"user:{user}"]}
        start = threading.Barrier(2)

        def racer(last: float, seconds_ago: float) -> None:
            start.wait(timeout=10)
            put_quote(dev, symbol, last, seconds_ago)

        threads = [threading.Thread(target=racer, args=args) for args in ((105.0, 1), (110.0, 0))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        frame = receive(ws)
        assert frame["channel"] == f"user:{user}"
        assert (frame["data"]["type"], frame["data"]["alert_id"]) == ("alert_triggered", alert_id)
        status, page = call(f"{dev.url}/api/v1/alerts/{alert_id}/events", token=token)
        assert status == 200
        assert len(page["items"]) == 1
        with pytest.raises(TimeoutError):
            ws.recv(timeout=3)  # no second frame: the alert fired once
    status, page = call(f"{dev.url}/api/v1/alerts?status=all", token=token)
    assert [a["status"] for a in page["items"] if a["id"] == alert_id] == ["triggered"]

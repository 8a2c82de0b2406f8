"""The local API Gateway WebSocket API over real sockets: `websockets` clients, boto3's apigatewaymanagementapi for
@connections, and events checked against Powertools' models of what API Gateway sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.client import HTTPConnection
from typing import Any, TypeVar

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from botocore.config import Config
from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from local.websocket import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, WebSocketGateway

T = TypeVar("T")
Event = dict[str, Any]


class Recorder:
    """A Lambda handler that records its events (from any worker thread) and answers with ``respond(event)``."""

    def __init__(self, respond: Callable[[Event], Any] = lambda event: {"statusCode": 200}) -> None:
        self.events: list[Event] = []
        self._respond = respond
        self._changed = threading.Condition()

    def __call__(self, event: Event, context: Any) -> Any:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()
        return self._respond(event)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Event]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout), (
                f"{len(self.events)} events, expected {count}"
            )
            return list(self.events)

    async def await_for(self, count: int) -> list[Event]:
        return await asyncio.to_thread(self.wait_for, count)


def allow(principal: str, context: dict[str, Any] | None = None, resource: str = "*") -> Callable[[Event], Any]:
    def respond(event: Event) -> dict[str, Any]:
        statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}
        return {
            "principalId": principal,
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": context or {},
        }

    return respond


def deny(event: Event) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": event["methodArn"]}
    return {"principalId": "nobody", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}


def raising(error: Exception) -> Callable[[Event], Any]:
    def respond(event: Event) -> Any:
        raise error

    return respond


def echo_route(event: Event) -> dict[str, Any]:
    return {"statusCode": 200, "body": f"{event['requestContext']['routeKey']}:{event['body']}"}


def run(scenario: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario, 30)

    return asyncio.run(bounded())


@pytest.fixture
def gateway() -> Iterator[Callable[..., WebSocketGateway]]:
    started: list[WebSocketGateway] = []

    def start(routes: dict[str, Any], **options: Any) -> WebSocketGateway:
        gw = WebSocketGateway(routes, **options)
        gw.start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


def management(gw: WebSocketGateway) -> ApiGatewayManagementApiClient:
    """boto3's client exactly as a deployed function builds it, with the gateway's callback URL."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gw.callback_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


def connection_id(event: Event) -> str:
    cid: str = event["requestContext"]["connectionId"]
    return cid


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """The close frame the server sent, once the connection is over."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.recv()
    received = ws.protocol.close_rcvd
    assert received is not None, "no close frame from the server"
    return received.code, received.reason


# ------------------------------------------------------------------ $connect and its authorizer


def test_an_authorizer_denial_refuses_the_upgrade_and_connect_never_runs(gateway: Callable[..., Any]) -> None:
    authorizer, on_connect = Recorder(deny), Recorder()
    gw = gateway({"$connect": on_connect}, authorizer=authorizer, identity_source=["route.request.querystring.ticket"])

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as denied:
            await connect(f"{gw.url}?ticket=t-1")
        assert denied.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as missing:  # no ticket: 401 and the authorizer is not even called
            await connect(gw.url)
        assert missing.value.response.status_code == 401

    run(scenario())
    (event,) = authorizer.events
    assert on_connect.events == []
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:000000000000:localws/dev/$connect"
    assert event["queryStringParameters"] == {"ticket": "t-1"}
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["stage"], context["apiId"]) == (
        "$connect",
        "CONNECT",
        "dev",
        "localws",
    )
    assert context["connectionId"]
    assert context["domainName"] == f"127.0.0.1:{gw.port}"
    assert gw.connection_ids() == []


@pytest.mark.parametrize(
    ("respond", "status"),
    [
        pytest.param(raising(Exception("Unauthorized")), 401, id="raises-Unauthorized"),
        pytest.param(raising(RuntimeError("boom")), 500, id="raises-other"),
        pytest.param(allow("u", {"nested": {"a": 1}}), 500, id="object-in-context"),
        pytest.param(lambda e: {"policyDocument": {}}, 500, id="no-principal"),
        pytest.param(allow("u", resource="arn:aws:execute-api:*:*:otherapi/*"), 403, id="allows-another-api"),
    ],
)
def test_authorizer_failures_answer_as_api_gateway_does(
    gateway: Callable[..., Any], respond: Callable[[Event], Any], status: int
) -> None:
    on_connect = Recorder()
    gw = gateway({"$connect": on_connect}, authorizer=Recorder(respond))

    async def scenario() -> int:
        with pytest.raises(InvalidStatus) as refused:
            await connect(gw.url, additional_headers={"Authorization": "Bearer x"})
        return refused.value.response.status_code

    assert run(scenario()) == status
    assert on_connect.events == []


def test_the_authorizer_context_reaches_connect_messages_and_disconnect(gateway: Callable[..., Any]) -> None:
    context = {"userId": "u-1", "tier": 2, "admin": False}
    on_connect, on_message, on_disconnect = Recorder(), Recorder(echo_route), Recorder()
    gw = gateway(
        {"$connect": on_connect, "subscribe": on_message, "$disconnect": on_disconnect},
        authorizer=Recorder(allow("u-1", context, resource="arn:aws:execute-api:us-east-1:*:localws/dev/$connect")),
        identity_source=["route.request.querystring.ticket"],
        route_responses=["subscribe"],
    )

    async def scenario() -> str:
        async with connect(f"{gw.url}?ticket=t-1", user_agent_header="ttai-test") as ws:
            await ws.send(json.dumps({"action": "subscribe", "channel": "alerts"}))
            reply = await ws.recv()
        await on_disconnect.await_for(1)
        return str(reply)

    assert run(scenario()) == 'subscribe:{"action": "subscribe", "channel": "alerts"}'
    (connected,), (message,), (disconnected,) = on_connect.events, on_message.events, on_disconnect.events
    APIGatewayWebSocketConnectEventModel.model_validate(connected)
    APIGatewayWebSocketMessageEventModel.model_validate(message)
    APIGatewayWebSocketDisconnectEventModel.model_validate(disconnected)
    for event in (connected, message, disconnected):
        authorizer = event["requestContext"]["authorizer"]
        # Context values arrive as strings, next to the principal and the authorizer's latency.
        assert {k: v for k, v in authorizer.items() if k != "integrationLatency"} == {
            "userId": "u-1",
            "tier": "2",
            "admin": "false",
            "principalId": "u-1",
        }
        assert isinstance(authorizer["integrationLatency"], int)
        assert connection_id(event) == connection_id(connected)
        assert event["requestContext"]["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "ttai-test"}
    assert connected["queryStringParameters"] == {"ticket": "t-1"}
    assert (message["requestContext"]["routeKey"], message["requestContext"]["eventType"]) == ("subscribe", "MESSAGE")
    assert message["requestContext"]["messageId"]
    assert message["isBase64Encoded"] is False
    assert disconnected["requestContext"]["disconnectStatusCode"] == 1000


def test_a_refusing_connect_integration_refuses_the_upgrade_with_its_status(gateway: Callable[..., Any]) -> None:
    def on_connect(event: Event, context: Any) -> dict[str, Any]:
        if event.get("queryStringParameters", {}).get("who") == "stranger":
            return {"statusCode": 400}
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "ttai.v1"}}

    on_disconnect = Recorder()
    gw = gateway({"$connect": on_connect, "$disconnect": on_disconnect})

    async def scenario() -> str | None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{gw.url}?who=stranger")
        assert refused.value.response.status_code == 400
        async with connect(f"{gw.url}?who=friend", subprotocols=[Subprotocol("ttai.v1")]) as ws:
            protocol = ws.subprotocol
        await on_disconnect.await_for(1)
        return protocol

    assert run(scenario()) == "ttai.v1"
    assert len(on_disconnect.events) == 1  # only the connection that opened ever disconnects


def test_posting_during_connect_is_gone_as_on_aws(gateway: Callable[..., Any]) -> None:
    outcomes: list[str] = []

    def on_connect(event: Event, context: Any) -> dict[str, Any]:
        client = management(gw)
        try:
            client.post_to_connection(ConnectionId=connection_id(event), Data=b"too early")
            outcomes.append("delivered")
        except client.exceptions.GoneException:
            outcomes.append("gone")
        return {"statusCode": 200}

    gw = gateway({"$connect": on_connect})

    async def scenario() -> None:
        async with connect(gw.url):
            pass

    run(scenario())
    assert outcomes == ["gone"]


# ------------------------------------------------------------------------------------------ messages


def test_messages_take_their_route_or_default(gateway: Callable[..., Any]) -> None:
    one_way = Recorder(echo_route)
    gw = gateway(
        {"subscribe": Recorder(echo_route), "$default": Recorder(echo_route), "ping": one_way},
        route_responses=["subscribe", "$default"],
    )

    async def scenario() -> list[str]:
        replies = []
        async with connect(gw.url) as ws:
            for body in ('{"action": "subscribe"}', '{"action": "nope"}', "not json", '{"action": 5}', "{}"):
                await ws.send(body)
                replies.append(str(await ws.recv()))
            await ws.send('{"action": "ping"}')  # a route without a route response: nothing comes back
            await one_way.await_for(1)
            await ws.send("after")
            replies.append(str(await ws.recv()))
        return replies

    assert run(scenario()) == [
        'subscribe:{"action": "subscribe"}',
        '$default:{"action": "nope"}',
        "$default:not json",
        '$default:{"action": 5}',
        "$default:{}",
        "$default:after",
    ]


def test_unroutable_failing_and_slow_messages_get_api_gateways_answers(gateway: Callable[..., Any]) -> None:
    release = threading.Event()

    def boom(event: Event, context: Any) -> None:
        raise RuntimeError("handler bug")

    def stuck(event: Event, context: Any) -> None:
        release.wait(5)

    gw = gateway({"boom": boom, "stuck": stuck}, integration_timeout=0.3)

    async def scenario() -> list[dict[str, Any]]:
        answers = []
        async with connect(gw.url) as ws:
            for action in ("nowhere", "boom", "stuck"):
                await ws.send(json.dumps({"action": action}))
                answers.append(json.loads(await ws.recv()))
        release.set()
        return answers

    answers = run(scenario())
    assert [a["message"] for a in answers] == ["Forbidden", "Internal server error", "Endpoint request timed out"]
    assert all(a["connectionId"] and a["requestId"] for a in answers)


def test_a_slow_integration_does_not_hold_up_other_connections(gateway: Callable[..., Any]) -> None:
    release = threading.Event()

    def slow(event: Event, context: Any) -> dict[str, Any]:
        assert release.wait(5)
        return {"statusCode": 200, "body": "slow done"}

    gw = gateway({"slow": slow, "$default": Recorder(echo_route)}, route_responses=["slow", "$default"])

    async def scenario() -> list[str]:
        async with connect(gw.url) as first, connect(gw.url) as second:
            await first.send('{"action": "slow"}')
            await second.send("quick")
            order = [str(await second.recv())]  # answered while the slow one still runs
            release.set()
            order.append(str(await first.recv()))
            return order

    assert run(scenario()) == ["$default:quick", "slow done"]


# ---------------------------------------------------------------------------------- @connections


def test_post_get_and_delete_through_boto3(gateway: Callable[..., Any]) -> None:
    on_connect, on_disconnect = Recorder(), Recorder()
    gw = gateway({"$connect": on_connect, "$disconnect": on_disconnect})
    client = management(gw)

    async def scenario() -> tuple[int, str]:
        async with connect(gw.url, user_agent_header="ttai-client/1") as ws:
            (event,) = await on_connect.await_for(1)
            cid = connection_id(event)
            await asyncio.to_thread(client.post_to_connection, ConnectionId=cid, Data=b'{"alert": "AAPL > 200"}')
            assert await ws.recv() == '{"alert": "AAPL > 200"}'
            info = await asyncio.to_thread(client.get_connection, ConnectionId=cid)
            assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "ttai-client/1"}
            assert info["ConnectedAt"] <= info["LastActiveAt"]
            await asyncio.to_thread(client.delete_connection, ConnectionId=cid)
            return await closed_with(ws)

    assert run(scenario()) == (1000, "")
    (disconnected,) = on_disconnect.wait_for(1)
    assert disconnected["requestContext"]["disconnectStatusCode"] == 1000
    cid = connection_id(disconnected)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=cid, Data=b"late")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=cid)
    with pytest.raises(client.exceptions.GoneException):
        client.delete_connection(ConnectionId=cid)
    assert gw.connection_ids() == []


def test_a_vanished_client_is_gone_after_its_disconnect_ran(gateway: Callable[..., Any]) -> None:
    on_connect, on_disconnect = Recorder(), Recorder()
    gw = gateway({"$connect": on_connect, "$disconnect": on_disconnect})
    client = management(gw)

    async def scenario() -> None:
        ws = await connect(gw.url)
        await on_connect.await_for(1)
        ws.transport.abort()  # no close frame: the network just went
        await on_disconnect.await_for(1)

    run(scenario())
    (disconnected,) = on_disconnect.events
    assert disconnected["requestContext"]["disconnectStatusCode"] == 1006
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=connection_id(disconnected), Data=b"anyone there?")
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="Zm9yZ2VkLWlkPQ=", Data=b"never connected")


def test_post_payloads_up_to_128_kb_are_delivered_and_larger_ones_refused(gateway: Callable[..., Any]) -> None:
    on_connect = Recorder()
    gw = gateway({"$connect": on_connect})
    client = management(gw)

    async def scenario() -> None:
        async with connect(gw.url) as ws:
            cid = connection_id((await on_connect.await_for(1))[0])
            largest = b"x" * MAX_MESSAGE_BYTES
            await asyncio.to_thread(client.post_to_connection, ConnectionId=cid, Data=largest)
            assert await ws.recv() == largest.decode()
            with pytest.raises(client.exceptions.PayloadTooLargeException):
                await asyncio.to_thread(client.post_to_connection, ConnectionId=cid, Data=largest + b"x")
            await ws.send("still open")  # the refusal did not touch the connection
            info = await asyncio.to_thread(client.get_connection, ConnectionId=cid)
            assert info["ConnectedAt"] <= info["LastActiveAt"]

    run(scenario())


def test_an_unsigned_management_request_is_forbidden(gateway: Callable[..., Any]) -> None:
    gw = gateway({})
    http = HTTPConnection("127.0.0.1", gw.port, timeout=5)
    http.request("POST", "/dev/@connections/abc%3D", body=b"hi")  # no SigV4 Authorization header
    response = http.getresponse()
    assert response.status == 403
    assert response.headers["x-amzn-ErrorType"] == "ForbiddenException"
    http.close()


# ------------------------------------------------------------------------------------------ quotas


def test_messages_over_128_kb_or_frames_over_32_kb_close_with_1009(gateway: Callable[..., Any]) -> None:
    on_message, on_disconnect = Recorder(), Recorder()
    gw = gateway({"$default": on_message, "$disconnect": on_disconnect})
    frame = "y" * MAX_FRAME_BYTES

    async def fragments_of(total: int) -> tuple[int, str] | None:
        """Sends ``total`` characters as one message in frames of 32 KB (the last one shorter)."""
        chunks = [frame] * (total // MAX_FRAME_BYTES)
        if total % MAX_FRAME_BYTES:
            chunks.append("z" * (total % MAX_FRAME_BYTES))
        async with connect(gw.url) as ws:
            with contextlib.suppress(ConnectionClosed):  # the server may close before the last frame is out
                await ws.send(chunk for chunk in chunks)
            return None if total <= MAX_MESSAGE_BYTES else await closed_with(ws)

    async def single_frame(size: int) -> tuple[int, str]:
        async with connect(gw.url) as ws:
            await ws.send("w" * size)
            return await closed_with(ws)

    async def scenario() -> None:
        assert await fragments_of(MAX_MESSAGE_BYTES) is None  # 128 KB in four 32 KB frames is fine
        assert (await on_message.await_for(1))[0]["body"] == frame * 4
        assert await fragments_of(MAX_MESSAGE_BYTES + 1) == (1009, "")
        assert await single_frame(MAX_FRAME_BYTES + 1) == (1009, "")  # a small message in one frame too big
        async with connect(gw.url) as ws:
            await ws.send(b"\x00binary")  # API Gateway takes text frames only
            assert await closed_with(ws) == (1003, "")
        await on_disconnect.await_for(4)

    run(scenario())
    assert len(on_message.events) == 1
    codes = sorted(e["requestContext"]["disconnectStatusCode"] for e in on_disconnect.events)
    assert codes == [1000, 1003, 1009, 1009]


@pytest.mark.slow
def test_idle_connections_close_and_activity_keeps_them_open(gateway: Callable[..., Any]) -> None:
    on_disconnect = Recorder()
    idle = 0.6
    gw = gateway({"$default": Recorder(), "$disconnect": on_disconnect}, idle_timeout=idle)

    async def scenario() -> tuple[float, tuple[int, str]]:
        async with connect(gw.url, ping_interval=0.05) as ws:  # pings keep nothing alive, as on AWS
            for _ in range(5):  # longer than the idle timeout in all, but never idle for that long
                await asyncio.sleep(idle / 4)
                await ws.send("still here")
            last_activity = time.monotonic()
            code_reason = await closed_with(ws)
            return time.monotonic() - last_activity, code_reason

    quiet_for, code_reason = run(scenario())
    assert code_reason == (1001, "Going away")
    assert quiet_for >= idle * 0.9
    (disconnected,) = on_disconnect.wait_for(1)
    assert disconnected["requestContext"]["disconnectStatusCode"] == 1001


@pytest.mark.slow
def test_connections_close_at_their_maximum_age_even_when_busy(gateway: Callable[..., Any]) -> None:
    on_disconnect = Recorder()
    gw = gateway({"$default": Recorder(), "$disconnect": on_disconnect}, max_connection_age=0.5)

    async def scenario() -> tuple[float, tuple[int, str]]:
        opened = time.monotonic()
        async with connect(gw.url) as ws:

            async def chatter() -> None:
                while True:
                    await ws.send("busy")
                    await asyncio.sleep(0.05)

            talking = asyncio.create_task(chatter())
            code_reason = await closed_with(ws)
            talking.cancel()
            return time.monotonic() - opened, code_reason

    lasted, code_reason = run(scenario())
    assert code_reason == (1001, "Going away")
    assert 0.45 <= lasted < 3
    assert on_disconnect.wait_for(1)[0]["requestContext"]["disconnectStatusCode"] == 1001


# ---------------------------------------------------------------------------------------- fan-out


def test_two_hundred_clients_each_receive_their_own_post(gateway: Callable[..., Any]) -> None:
    clients = 200
    on_connect = Recorder()
    gw = gateway({"$connect": on_connect})
    client = management(gw)

    async def scenario() -> list[str]:
        sockets = await asyncio.gather(*(connect(f"{gw.url}?n={n}") for n in range(clients)))
        try:
            by_number = {e["queryStringParameters"]["n"]: connection_id(e) for e in await on_connect.await_for(clients)}

            def post_all() -> None:
                for n, cid in by_number.items():
                    client.post_to_connection(ConnectionId=cid, Data=f"for {n}".encode())

            receiving = asyncio.gather(*(s.recv() for s in sockets))
            _, received = await asyncio.gather(asyncio.to_thread(post_all), receiving)
            return [str(r) for r in received]
        finally:
            await asyncio.gather(*(s.close() for s in sockets))

    assert run(scenario()) == [f"for {n}" for n in range(clients)]
    assert len(set(map(connection_id, on_connect.events))) == clients


def test_stopping_the_gateway_closes_connections_and_runs_disconnect() -> None:
    on_disconnect = Recorder()
    gw = WebSocketGateway({"$disconnect": on_disconnect})
    gw.start()

    async def scenario() -> tuple[int, str]:
        async with connect(gw.url) as ws:
            await asyncio.to_thread(gw.stop)
            return await closed_with(ws)

    assert run(scenario()) == (1001, "Going away")
    assert on_disconnect.events[0]["requestContext"]["disconnectStatusCode"] == 1001

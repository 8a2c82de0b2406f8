"""API Gateway's WebSocket API on one machine: the upgrade, the routes and the @connections management API on one
loopback port, served by aiohttp on an event loop of its own (a daemon thread), integrations run in a thread pool.

What clients and integrations can see behaves as on AWS:
- ``$connect``: the REQUEST authorizer (if any) runs first; a refusal answers 401/403/500 before the upgrade and the
  ``$connect`` integration never runs. A non-2xx statusCode from that integration refuses the upgrade with it (a
  ``Sec-WebSocket-Protocol`` header it returns picks the subprotocol); an error or a timeout answers 502/504.
- Messages: text frames only (a binary frame closes with 1003); routed by the selection expression, else
  ``$default``; with no route to take, the client gets ``{"message": "Forbidden", ...}``, and an integration that
  fails or times out gets it ``Internal server error`` / ``Endpoint request timed out``. Routes listed in
  ``route_responses`` are two-way: the integration's body is sent back to the client.
- Quotas: messages up to 128 KB in frames of at most 32 KB (either exceeded: close 1009); idle timeout (10 min)
  and maximum connection age (2 h) close with 1001 "Going away" (both configurable). Only messages, either way,
  count as activity; pings are answered but keep nothing alive.
- ``$disconnect`` runs once per opened connection after it closed, whoever closed it (best effort, as on AWS: its
  failure is only logged); from the moment a close starts, @connections answers 410 for it.
- @connections: ``POST``/``GET``/``DELETE {callback_url}/@connections/{id}`` as boto3's apigatewaymanagementapi
  client calls them. An unknown, closing or closed connection (or one still in ``$connect``) answers 410
  GoneException; a payload over 128 KB answers 413 PayloadTooLargeException. A request must carry a SigV4
  ``Authorization`` header (else 403 ForbiddenException), but its signature is not verified.

Deliberate differences: a post over 32 KB reaches the client as one frame (AWS splits it into 32 KB frames, which
client libraries reassemble alike); permessage-deflate is not negotiated; new-connection rate and account throttles
are not modelled. The ``disconnectReason`` texts are ours (AWS does not document them); the codes follow AWS.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from local.account import ACCOUNT_ID, REGION
from local.functions import LambdaContext
from local.service import Service
from local.websocket import events
from local.websocket.authorizer import (
    AuthorizerRefusal,
    authorizer_context,
    check_identity_source,
    identity_present,
    refusal_for_error,
)
from local.websocket.events import CONNECT, DISCONNECT, Api, Handshake, RouteSelection
from local.websocket.frames import GuardedRequestHandler, GuardedServer

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024
MAX_FRAME_BYTES = 32 * 1024
IDLE_TIMEOUT_SECONDS = 10 * 60.0
MAX_CONNECTION_AGE_SECONDS = 2 * 60 * 60.0
INTEGRATION_TIMEOUT_SECONDS = 29.0
GOING_AWAY = "Going away"

# A Lambda handler, ``(event, context) -> response``, called in a worker thread with a local LambdaContext.
Integration = Callable[[dict[str, Any], Any], Any]


@dataclass(eq=False)
class _Connection:
    """An open connection as the event loop tracks it (touched only on the loop thread)."""

    info: events.Connection
    ws: web.WebSocketResponse
    opened_at: float  # loop time
    last_active: float  # loop time
    last_active_ms: int
    close_cause: tuple[int, str] | None = None
    closing: bool = False
    watchdog: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def connection_id(self) -> str:
        return self.info.connection_id

    def touch(self, loop: asyncio.AbstractEventLoop) -> None:
        self.last_active = loop.time()
        self.last_active_ms = events.epoch_ms()

    async def close(self, code: int, reason: str) -> None:
        """Close from the server's side (once; a close already under way, from either side, wins)."""
        if self.close_cause is not None:
            return
        self.closing = True
        self.close_cause = (code, reason)
        await self.ws.close(code=code, message=reason.encode())


class WebSocketGateway(Service):
    """A local API Gateway WebSocket API. ``routes`` maps route keys (``$connect``, ``$disconnect``, ``$default``
    and custom keys) to Lambda handlers ``(event, context) -> response``; each runs in a worker thread, so a slow one
    never holds up other connections."""

    def __init__(
        self,
        routes: Mapping[str, Integration],
        *,
        authorizer: Integration | None = None,
        identity_source: Sequence[str] = ("route.request.header.Authorization",),
        route_selection_expression: str = "$request.body.action",
        route_responses: Collection[str] = (),
        stage: str = "dev",
        api_id: str = "localws",
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_connection_age: float = MAX_CONNECTION_AGE_SECONDS,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        max_workers: int = 16,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        unknown = set(route_responses) - set(routes)
        if unknown:
            raise ValueError(f"route responses for routes that do not exist: {sorted(unknown)}")
        if not stage or "/" in stage or stage.startswith("$"):
            raise ValueError(f"stage must be a plain name (it is the first path segment), not {stage!r}")
        self.routes = dict(routes)
        self.authorizer = authorizer
        self.identity_source = check_identity_source(identity_source)
        self.route_selection = RouteSelection(route_selection_expression)
        self.route_responses = frozenset(route_responses)
        self.api = Api(api_id=api_id, stage=stage, region=region, account_id=account_id)
        self.idle_timeout = idle_timeout
        self.max_connection_age = max_connection_age
        self.integration_timeout = integration_timeout
        self._max_workers = max_workers
        self._host = host
        self._port = port
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._runner: web.ServerRunner | None = None
        self._open: dict[str, _Connection] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._messages: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="ws-integration")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._serve, args=(loop,), name="ws-gateway", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start_site(), loop).result(timeout=10)
        except BaseException:
            self.stop()
            raise

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _start_site(self) -> None:
        assert self._socket is not None
        server = GuardedServer(self._dispatch, frame_limit=MAX_FRAME_BYTES, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        # A deep backlog: a thousand clients connecting at once must not wait on SYN retries.
        await web.SockSite(self._runner, self._socket, backlog=1024).start()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            if self._socket is not None:
                self._socket.close()
            self._loop = self._thread = self._executor = self._runner = self._socket = None

    async def _shutdown(self) -> None:
        """Close every connection with 1001 (their ``$disconnect`` runs), then the server."""
        await asyncio.gather(*(c.close(WSCloseCode.GOING_AWAY, GOING_AWAY) for c in list(self._open.values())))
        pending = set(self._handlers) | set(self._messages)
        if pending:
            await asyncio.wait(pending, timeout=self.integration_timeout)
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        assert self._socket is not None, "not started"
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """Where clients connect (the deployed API's ``wss://{api}.execute-api.{region}.amazonaws.com/{stage}``)."""
        return f"ws://{self._host}:{self.port}/{self.api.stage}"

    @property
    def callback_url(self) -> str:
        """The @connections endpoint: what boto3's ``apigatewaymanagementapi`` client takes as ``endpoint_url``
        (the deployed stage's ``callback_url``, ``https://{api}.execute-api.{region}.amazonaws.com/{stage}``)."""
        return f"http://{self._host}:{self.port}/{self.api.stage}"

    def connection_ids(self) -> list[str]:
        """The connections open now (not closing), for tests and diagnostics."""
        assert self._loop is not None, "not started"
        return asyncio.run_coroutine_threadsafe(self._connection_ids(), self._loop).result(timeout=10)

    async def _connection_ids(self) -> list[str]:
        return [c.connection_id for c in self._open.values() if not c.closing]

    # ---------------------------------------------------------------- dispatch

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        stage_path = f"/{self.api.stage}"
        path = request.path
        if path in {stage_path, f"{stage_path}/"}:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return _json(426, {"message": "Upgrade Required"})
            return await self._upgrade(request)
        management = f"{stage_path}/@connections/"
        if path.startswith(management) and "/" not in path.removeprefix(management):
            return await self._manage(request, path.removeprefix(management))
        return _json(403, {"message": "Forbidden"})

    # ---------------------------------------------------------------- invoking

    async def _invoke(self, function_name: str, handler: Integration, event: dict[str, Any]) -> Any:
        """A handler call in a worker thread, abandoned (as API Gateway abandons it) after the integration timeout."""
        loop = asyncio.get_running_loop()
        context = LambdaContext(function_name=function_name, timeout_seconds=self.integration_timeout)
        call = loop.run_in_executor(self._executor, handler, event, context)
        return await asyncio.wait_for(call, self.integration_timeout)

    def _function_name(self, route_key: str) -> str:
        return f"{self.api.api_id}-{route_key.lstrip('$')}"

    # ----------------------------------------------------------------- $connect

    def _handshake(self, request: web.BaseRequest) -> Handshake:
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
        return Handshake(
            headers=headers,
            query=tuple(request.rel_url.query.items()),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent"),
            domain_name=request.host,
        )

    async def _authorize(self, connection: events.Connection) -> dict[str, Any] | None:
        if self.authorizer is None:
            return None
        if not identity_present(self.identity_source, connection.handshake):
            raise AuthorizerRefusal(401, "Unauthorized")
        started = time.perf_counter()
        try:
            result = await self._invoke(
                self._function_name("authorizer"), self.authorizer, events.authorizer_event(self.api, connection)
            )
        except TimeoutError as exc:
            raise AuthorizerRefusal(500, "Internal server error") from exc
        except Exception as exc:
            if str(exc) != "Unauthorized":
                log.exception("WebSocket authorizer failed")
            raise refusal_for_error(exc) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        try:
            return authorizer_context(result, self.api.route_arn(CONNECT), latency_ms)
        except AuthorizerRefusal as refusal:
            if refusal.status == 500:
                log.error("WebSocket authorizer returned an invalid result: %r", result)
            raise

    async def _run_connect(self, connection: events.Connection) -> web.Response | tuple[str, ...]:
        """The subprotocols to offer when ``$connect`` accepts; the refusal to send when it does not."""
        handler = self.routes.get(CONNECT)
        if handler is None:
            return ()
        try:
            result = await self._invoke(
                self._function_name(CONNECT), handler, events.connect_event(self.api, connection)
            )
        except TimeoutError:
            return _json(504, {"message": "Endpoint request timed out"})
        except Exception:
            log.exception("WebSocket $connect integration failed")
            return _json(502, {"message": "Internal server error"})
        return _connect_outcome(result)

    async def _upgrade(self, request: web.BaseRequest) -> web.StreamResponse:
        handshake = self._handshake(request)
        connection = events.Connection(events.new_id(), events.epoch_ms(), handshake, None)
        try:
            authorizer = await self._authorize(connection)
        except AuthorizerRefusal as refusal:
            return _json(refusal.status, {"message": refusal.message})
        connection = events.Connection(connection.connection_id, connection.connected_at, handshake, authorizer)
        outcome = await self._run_connect(connection)
        if isinstance(outcome, web.Response):
            return outcome
        ws = web.WebSocketResponse(
            protocols=outcome, compress=False, max_msg_size=MAX_MESSAGE_BYTES + 1, autoping=True, autoclose=True
        )
        loop = asyncio.get_running_loop()
        now = loop.time()
        live = _Connection(connection, ws, opened_at=now, last_active=now, last_active_ms=events.epoch_ms())
        protocol = request.protocol
        if isinstance(protocol, GuardedRequestHandler):
            protocol.on_oversized_frame = lambda _length: self._spawn(live.close(WSCloseCode.MESSAGE_TOO_BIG, ""))
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)  # until its $disconnect is done, so stop() can wait for it
        task.add_done_callback(self._handlers.discard)
        try:
            await ws.prepare(request)
        except ConnectionError:
            return ws  # the client left during the upgrade: the connection never opened
        self._open[live.connection_id] = live
        live.watchdog = loop.create_task(self._watch(live))
        try:
            await self._receive(live)
        finally:
            self._open.pop(live.connection_id, None)
            live.closing = True
            if live.watchdog is not None:
                live.watchdog.cancel()
        await self._run_disconnect(live)
        return ws

    # ---------------------------------------------------------------- messages

    async def _receive(self, live: _Connection) -> None:
        ws, loop = live.ws, asyncio.get_running_loop()
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.TEXT:
                live.touch(loop)
                self._spawn(self._route(live, message.data))
            elif message.type is WSMsgType.BINARY:
                # API Gateway takes text frames only.
                await live.close(WSCloseCode.UNSUPPORTED_DATA, "")
            elif message.type is WSMsgType.CLOSE:
                code = message.data or 1005
                reason = message.extra or ("Client-side close frame status not set" if code == 1005 else "")
                if live.close_cause is None:
                    live.close_cause = (code, reason)
                return
            elif message.type is WSMsgType.ERROR:
                error = message.data
                if live.close_cause is None:
                    if isinstance(error, WebSocketError):
                        live.close_cause = (error.code, "Message too big" if error.code == 1009 else str(error))
                    else:
                        live.close_cause = (1006, "Connection closed abnormally")
                return
            else:  # CLOSING (we started the close) or CLOSED (the socket went away without a close frame)
                if live.close_cause is None:
                    live.close_cause = (1006, "Connection closed abnormally")
                return

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._messages.add(task)
        task.add_done_callback(self._messages.discard)

    async def _route(self, live: _Connection, body: str) -> None:
        route_key = self.route_selection.select(body, self.routes.keys())
        handler = self.routes.get(route_key)
        event = events.message_event(self.api, live.info, route_key, body)
        request_id = event["requestContext"]["requestId"]
        if handler is None:
            await self._reply(live, _gateway_message("Forbidden", live, request_id))
            return
        try:
            result = await self._invoke(self._function_name(route_key), handler, event)
        except TimeoutError:
            await self._reply(live, _gateway_message("Endpoint request timed out", live, request_id))
            return
        except Exception:
            log.exception("WebSocket %s integration failed", route_key)
            await self._reply(live, _gateway_message("Internal server error", live, request_id))
            return
        if route_key in self.route_responses:
            body_out = _response_body(result)
            if body_out is not None:
                await self._reply(live, body_out)

    async def _reply(self, live: _Connection, text: str) -> None:
        if live.closing:
            return
        try:
            await live.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return  # the connection went while the integration ran
        live.touch(asyncio.get_running_loop())

    # -------------------------------------------------------------- time limits

    async def _watch(self, live: _Connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = min(live.opened_at + self.max_connection_age, live.last_active + self.idle_timeout)
            if loop.time() >= deadline:
                break
            await asyncio.sleep(deadline - loop.time())
        live.watchdog = None  # closing ends the receive loop, which would cancel this task
        await live.close(WSCloseCode.GOING_AWAY, GOING_AWAY)

    # -------------------------------------------------------------- $disconnect

    async def _run_disconnect(self, live: _Connection) -> None:
        handler = self.routes.get(DISCONNECT)
        if handler is None:
            return
        code, reason = live.close_cause or (1006, "Connection closed abnormally")
        event = events.disconnect_event(self.api, live.info, code, reason)
        try:
            await self._invoke(self._function_name(DISCONNECT), handler, event)
        except Exception:
            log.exception("WebSocket $disconnect integration failed (best effort, as on AWS)")

    # -------------------------------------------------------------- @connections

    async def _manage(self, request: web.BaseRequest, connection_id: str) -> web.StreamResponse:
        """403 unsigned, 413 too large, 410 gone (checked in that order), else the operation."""
        if not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return _error(403, "ForbiddenException", "Missing Authentication Token")
        data = await _read_limited(request, MAX_MESSAGE_BYTES)
        if data is None:
            return _error(413, "PayloadTooLargeException", "Request entity too large")
        live = self._open.get(connection_id)
        if live is None or live.closing:
            return _error(410, "GoneException", "Gone")
        return await self._operate(request.method, live, data)

    async def _operate(self, method: str, live: _Connection, data: bytes) -> web.Response:
        if method == "POST":
            return await self._post(live, data)
        if method == "GET":
            return _json(200, _connection_info(live))
        if method != "DELETE":
            return _error(403, "ForbiddenException", "Forbidden")
        live.closing = True  # 410 from now on, though the close itself starts on the next turn of the loop
        self._spawn(live.close(WSCloseCode.OK, ""))
        return web.Response(status=204)

    async def _post(self, live: _Connection, data: bytes) -> web.Response:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        try:
            if text is None:
                await live.ws.send_bytes(data)
            else:
                await live.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return _error(410, "GoneException", "Gone")
        live.touch(asyncio.get_running_loop())
        return web.Response(status=200)


def _connection_info(live: _Connection) -> dict[str, Any]:
    """GetConnection's answer."""
    handshake = live.info.handshake
    return {
        "connectedAt": events.iso8601(live.info.connected_at),
        "identity": {"sourceIp": handshake.source_ip, "userAgent": handshake.user_agent or ""},
        "lastActiveAt": events.iso8601(live.last_active_ms),
    }


def _connect_outcome(result: Any) -> web.Response | tuple[str, ...]:
    """Reads the ``$connect`` integration's response: a non-2xx statusCode refuses the upgrade with it; a
    ``Sec-WebSocket-Protocol`` header picks the subprotocol; no response at all accepts."""
    if result is None:
        return ()
    if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int):
        log.error("WebSocket $connect integration returned an invalid response: %r", result)
        return _json(502, {"message": "Internal server error"})
    status = result.get("statusCode", 200)
    if not 200 <= status < 300:
        return web.Response(status=status)
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    protocol = headers.get("sec-websocket-protocol")
    return (protocol,) if protocol else ()


async def _read_limited(request: web.BaseRequest, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` bytes (checked before reading when its length is declared)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def _error(status: int, error_type: str, message: str) -> web.Response:
    """An error as botocore's rest-json parser reads it: the type in ``x-amzn-ErrorType``."""
    return _json(status, {"message": message}, {"x-amzn-ErrorType": error_type})


def _gateway_message(message: str, live: _Connection, request_id: str) -> str:
    """What API Gateway sends the client when a message cannot be handled."""
    return json.dumps({"message": message, "connectionId": live.connection_id, "requestId": request_id})


def _response_body(result: Any) -> str | None:
    """A proxy integration's body (a route response sends only the body); a bare value is sent as JSON."""
    if result is None:
        return None
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body")
        return None if body is None else str(body)
    if isinstance(result, str):
        return result
    return json.dumps(result)

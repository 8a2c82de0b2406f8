"""The durable host: runs one call or one alarm of one object, under that object's lease.

Both transports end here: deployed, the durable host function's handler is ``host.handle`` (a synchronous invoke
carries a call; the alarm queue carries alarms as SQS records); locally ``LocalTransport`` and the local alarm
runner call the same ``handle`` in-process. For every event the host checks the namespace, the id and the method
before any AWS call, takes the object's lease, builds a fresh instance of the registered class
(``cls(ctx, env)``), runs the method or ``alarm(info)``, then commits the call's writes and releases the lease in
one request.

Events (``wire.py`` has the call and response shapes):

- ``{"kind": "call", "namespace", "id", "name", "method", "args", "kwargs"}`` -> ``{"ok": true, "result"}`` or
  ``{"ok": false, "error": {name, message, remote, retryable, overloaded}}``;
- ``{"kind": "alarm", "namespace", "id", "scheduled_time"}`` -> ``{"ok": true, "outcome"}``, the outcome one of
  ``ran``, ``retrying``, ``gave_up``, ``replaced``, ``deleted`` (by the handler), ``stale`` (the alarm was
  replaced or deleted since this trigger was armed), ``early`` (re-armed) or ``no_handler``;
- ``{"kind": "websocket", "event": "message" | "close", "namespace", "id", "connection_id", ...}``: a hibernation
  WebSocket event for the object holding the connection (connections.py builds them): ``message`` carries the text,
  ``close`` the code, reason, was_clean and the socket's tags and attachment as its home held them ->
  ``{"ok": true, "outcome": "delivered" | "no_handler"}``;
- ``{"Records": [...]}``: SQS records whose bodies are alarm events (or websocket close events the host queued for
  itself) -> ``{"batchItemFailures"}`` for the ones to redeliver (the object was busy, or AWS failed).

An exception from the object's code is the caller's error (``remote``); the writes it made before raising are
kept, as on Cloudflare. Messages the call sent through its WebSockets go out after its writes are stored and
before its lease is released (Cloudflare's output gate; one more request when a call both writes and sends).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ttai.bindings.common import THROTTLING_CODES, UNAVAILABLE_CODES, error_code
from ttai.bindings.durable import codec, wire
from ttai.bindings.durable.alarms import AlarmInfo, AlarmTrigger, PolledAlarms
from ttai.bindings.durable.context import HANDLERS, DurableObject, DurableObjectState, WebSocketHub
from ttai.bindings.durable.errors import DurableBindingError, InvalidNamespace, ValueTooLarge, WebSocketsUnavailable
from ttai.bindings.durable.ids import DurableObjectId, IdFactory, check_namespace_name
from ttai.bindings.durable.items import DurableTable
from ttai.bindings.durable.lease import LeaseLost, Leases, ObjectOverloaded
from ttai.bindings.durable.namespace import DurableObjectNamespace, LocalTransport
from ttai.bindings.durable.storage import DurableObjectStorage, ObjectAddress
from ttai.errors import Unavailable
from ttai.observability import logger

# The host drives storage through its underscored methods (commit, alarm runs): the package's own interface,
# kept off the public names of ctx.storage so an object cannot release its own lease.
Response = dict[str, Any]
Work = Callable[[type[DurableObject], DurableObjectState, DurableObjectStorage], Response]
# AWS's answers that mean "try again": the call did not take effect (throttled, failing for now, or a DynamoDB
# transaction that met a concurrent one).
_TRANSIENT = THROTTLING_CODES | UNAVAILABLE_CODES | {"TransactionConflictException"}
_AWS_FAILURES = (ClientError, BotoCoreError, Unavailable)
# What the host's queue carries: alarms, and the web_socket_close a 410 found while the host itself was sending
# (queued rather than run then: the home object may be the one whose lease the sending call holds).
_QUEUED_KINDS = frozenset({"alarm", "websocket"})


class DurableObjectHost:
    """Runs the registered Durable Object classes, by namespace name, against one table."""

    def __init__(
        self,
        classes: Mapping[str, type[DurableObject]],
        *,
        table: str | DurableTable,
        env: Any = None,
        dynamodb: Any = None,
        trigger: AlarmTrigger | None = None,
        lease_seconds: float = 30.0,
        wait_seconds: float = 10.0,
        websockets: Callable[[DurableObjectId], WebSocketHub] | None = None,
    ) -> None:
        for name, cls in classes.items():
            check_namespace_name(name)
            if not (inspect.isclass(cls) and issubclass(cls, DurableObject)):
                raise TypeError(f"namespace {name}: {cls!r} is not a DurableObject subclass")
        self.classes = dict(classes)
        self.table = table if isinstance(table, DurableTable) else DurableTable(table)
        self.env = env
        if dynamodb is None:
            from ttai import aws  # noqa: PLC0415 - boto3 only when no client is injected

            dynamodb = aws.client("dynamodb")
        self.dynamodb = dynamodb
        self.trigger: AlarmTrigger = trigger or PolledAlarms()
        self.leases = Leases(self.table, dynamodb, lease_seconds=lease_seconds, wait_seconds=wait_seconds)
        self._websockets = websockets
        self._ids = {name: IdFactory(name) for name in self.classes}
        self._kinds: dict[str, Callable[[Mapping[str, Any]], Response]] = {
            "call": self.call,
            "alarm": self.alarm,
            "websocket": self.websocket,
        }

    def namespace(self, name: str) -> DurableObjectNamespace:
        """A namespace whose stubs call this host in-process (locally and in tests)."""
        if name not in self.classes:
            raise InvalidNamespace(f"this host runs no namespace {name!r}: one of {', '.join(sorted(self.classes))}")
        return DurableObjectNamespace(name, LocalTransport(self))

    # ----------------------------------------------------------------- events

    def handle(self, event: Mapping[str, Any], context: Any = None) -> Response:
        """The durable host function's handler: one call, one alarm, or a batch of SQS-delivered alarms."""
        if "Records" in event:
            return self._records(event["Records"])
        handler = self._kinds.get(str(event.get("kind")))
        if handler is None:
            return wire.error("TypeError", f"the durable host takes events of kind {' or '.join(self._kinds)}")
        return handler(event)

    def call(self, event: Mapping[str, Any]) -> Response:
        method = event.get("method")
        try:
            cls, id = self._resolve(event)
            sockets = self._sockets(id)
            # A WebSocket argument becomes this object's handle on the connection.
            handle = sockets.handle if sockets is not None else None
            args = codec.from_tree(event.get("args") or [], websocket=handle)
            kwargs = codec.from_tree(event.get("kwargs") or {}, websocket=handle)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise TypeError("args must be a list and kwargs a mapping")
        except (DurableBindingError, TypeError, ValueError, KeyError) as exc:
            return wire.error(type(exc).__name__, str(exc))
        if not _is_rpc_method(cls, method):
            return wire.error("TypeError", f"The RPC receiver does not implement the method {method!r}")
        assert isinstance(method, str)

        def run(cls: type[DurableObject], ctx: DurableObjectState, storage: DurableObjectStorage) -> Response:
            try:
                value = getattr(cls(ctx, self.env), method)(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the object's own error goes back to its caller
                return _remote(exc)
            try:
                response = wire.result(value)
                wire.to_json(response, "result")
            except (DurableBindingError, ValueTooLarge) as exc:
                return wire.error("DataCloneError", f"the method's result cannot be returned: {exc}")
            return response

        return self._with_object(cls, id, run, sockets)

    def alarm(self, event: Mapping[str, Any]) -> Response:
        try:
            cls, id = self._resolve(event)
            scheduled = event["scheduled_time"]
            if isinstance(scheduled, bool) or not isinstance(scheduled, int):
                raise TypeError(f"scheduled_time must be ms since the epoch, not {scheduled!r}")
        except (DurableBindingError, TypeError, KeyError) as exc:
            return wire.error(type(exc).__name__, str(exc))

        def run(cls: type[DurableObject], ctx: DurableObjectState, storage: DurableObjectStorage) -> Response:
            alarm = storage._stored_alarm()
            if alarm is None or alarm.due_ms != scheduled:
                return {"ok": True, "outcome": "stale"}
            if alarm.due_ms > time.time() * 1000:
                storage._rearm_alarm(alarm)
                return {"ok": True, "outcome": "early"}
            if not callable(getattr(cls, "alarm", None)):
                storage.delete_alarm()
                logger.warning("alarm of a class with no alarm() deleted", extra={"namespace": id.namespace})
                return {"ok": True, "outcome": "no_handler"}
            storage._begin_alarm_run(alarm)
            failed = False
            try:
                instance = cls(ctx, self.env)
                instance.alarm(AlarmInfo(retry_count=alarm.retries, is_retry=alarm.retries > 0))  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a failed alarm is retried, as Cloudflare retries it
                failed = True
                logger.exception(
                    "alarm failed", extra={"namespace": id.namespace, "id": str(id), "retry_count": alarm.retries}
                )
            outcome = storage._end_alarm_run(failed=failed)
            if outcome == "gave_up":
                logger.error("alarm given up after its retries", extra={"namespace": id.namespace, "id": str(id)})
            return {"ok": True, "outcome": outcome}

        return self._with_object(cls, id, run)

    def websocket(self, event: Mapping[str, Any]) -> Response:
        """A message from, or the close of, a connection the object holds: ``web_socket_message(ws, message)`` /
        ``web_socket_close(ws, code, reason, was_clean)``."""
        kind = event.get("event")
        try:
            cls, id = self._resolve(event)
            sockets = self._sockets(id)
            if sockets is None:
                raise WebSocketsUnavailable("this Durable Object host has no WebSocket gateway")
            if kind == "message":
                message = event["message"]
                if not isinstance(message, str):
                    raise TypeError("a WebSocket message event carries text (API Gateway takes text frames only)")
                ws = sockets.handle(event["connection_id"])
                arguments: tuple[Any, ...] = (message,)
            elif kind == "close":
                ws = sockets.handle(event["connection_id"], tags=list(event["tags"]), attachment=event["attachment"])
                code, reason, was_clean = event["code"], event["reason"], event["was_clean"]
                if not isinstance(code, int) or not isinstance(reason, str) or not isinstance(was_clean, bool):
                    raise TypeError("a close event carries code (int), reason (str) and was_clean (bool)")
                ws.ready_state = ws.CLOSED
                arguments = (code, reason, was_clean)
            else:
                raise TypeError(f"a websocket event is a message or a close, not {kind!r}")
        except (DurableBindingError, WebSocketsUnavailable, TypeError, KeyError) as exc:
            return wire.error(type(exc).__name__, str(exc))
        handler_name = f"web_socket_{kind}"

        def run(cls: type[DurableObject], ctx: DurableObjectState, storage: DurableObjectStorage) -> Response:
            if not callable(getattr(cls, handler_name, None)):
                return {"ok": True, "outcome": "no_handler"}
            try:
                getattr(cls(ctx, self.env), handler_name)(ws, *arguments)
            except Exception as exc:  # noqa: BLE001 - the object's own error; logged, as Cloudflare logs it
                logger.exception(f"{handler_name} failed", extra={"namespace": id.namespace, "id": str(id)})
                return _remote(exc)
            return {"ok": True, "outcome": "delivered"}

        return self._with_object(cls, id, run, sockets)

    def _records(self, records: list[dict[str, Any]]) -> Response:
        failures = []
        for record in records:
            try:
                event = json.loads(record["body"])
                if not isinstance(event, dict) or event.get("kind") not in _QUEUED_KINDS:
                    raise TypeError("the alarm queue carries alarm and websocket (close) events only")
            except (ValueError, TypeError, KeyError):
                # A malformed record will never run: dropping it beats redelivering it until the DLQ.
                logger.exception("malformed alarm record dropped", extra={"messageId": record.get("messageId")})
                continue
            response = self.alarm(event) if event["kind"] == "alarm" else self.websocket(event)
            error = response.get("error") or {}
            if not response.get("ok") and (error.get("retryable") or error.get("overloaded")):
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    # ------------------------------------------------------------------ core

    def _resolve(self, event: Mapping[str, Any]) -> tuple[type[DurableObject], DurableObjectId]:
        namespace = event.get("namespace")
        if namespace not in self._ids:
            raise InvalidNamespace(f"this host runs no namespace {namespace!r}")
        assert isinstance(namespace, str)
        name = event.get("name")
        if name is not None and not isinstance(name, str):
            raise TypeError("an object name must be a string")
        return self.classes[namespace], self._ids[namespace].from_string(event.get("id"), name)  # type: ignore[arg-type]

    def _sockets(self, id: DurableObjectId) -> WebSocketHub | None:
        return self._websockets(id) if self._websockets is not None else None

    def _with_object(
        self, cls: type[DurableObject], id: DurableObjectId, work: Work, sockets: WebSocketHub | None = None
    ) -> Response:
        partition = self.table.partition(id.namespace, str(id))
        try:
            lease = self.leases.acquire(partition)
        except ObjectOverloaded as exc:
            return wire.error("Overloaded", str(exc), overloaded=True)
        except _AWS_FAILURES as exc:
            return _infrastructure(exc, id)
        storage = DurableObjectStorage(
            ObjectAddress(id.namespace, str(id), partition, lease),
            table=self.table,
            dynamodb=self.dynamodb,
            leases=self.leases,
            trigger=self.trigger,
            alarm_handler=callable(getattr(cls, "alarm", None)),
        )
        if sockets is None:
            sockets = self._sockets(id)
        ctx = DurableObjectState(id, storage, sockets)
        try:
            response = work(cls, ctx, storage)
            if sockets is not None and sockets.pending():
                storage._flush()  # the output gate: writes stored (the lease still held) before messages go out
                sockets.flush()
            storage._close()
        except LeaseLost as exc:
            return wire.error("LeaseLost", str(exc), retryable=True)
        except _AWS_FAILURES as exc:
            self._abandon(lease_holder=storage)
            return _infrastructure(exc, id)
        except Exception:  # noqa: BLE001 - the host answers every call; the details stay in the log
            logger.exception("durable host failed", extra={"namespace": id.namespace, "id": str(id)})
            self._abandon(lease_holder=storage)
            return wire.error("InternalError", "the Durable Object host failed; see its log")
        return response

    def _abandon(self, *, lease_holder: DurableObjectStorage) -> None:
        """Release the lease without writing (the commit failed), so the object is not blocked until it expires."""
        try:
            self.leases.release(lease_holder._address.lease)
        except (LeaseLost, *_AWS_FAILURES):
            logger.warning("lease left to expire", extra={"partition": lease_holder._address.partition})


def _is_rpc_method(cls: type[DurableObject], name: object) -> bool:
    """Public functions the class (not the base) defines; handlers the platform calls are not RPC methods."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or name in HANDLERS:
        return False
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass is not DurableObject and klass is not object and inspect.isfunction(vars(klass)[name])
    return False


def _remote(exc: Exception) -> Response:
    if isinstance(exc, _AWS_FAILURES):
        # Raised through the object's code by storage: an AWS failure, not the object's own error.
        transient = error_code(exc) in _TRANSIENT or isinstance(exc, Unavailable)
        return wire.error(type(exc).__name__, "a storage request failed", retryable=transient)
    return wire.error(type(exc).__name__, str(exc), remote=True)


def _infrastructure(exc: ClientError | BotoCoreError | Unavailable, id: DurableObjectId) -> Response:
    code = error_code(exc)
    logger.warning("durable host AWS error", extra={"namespace": id.namespace, "id": str(id), "code": code})
    if code in _TRANSIENT or isinstance(exc, BotoCoreError | Unavailable):
        return wire.error("Unavailable", "the object's storage is unavailable; retry", retryable=True)
    return wire.error("InternalError", "the object's storage failed; see the host's log")

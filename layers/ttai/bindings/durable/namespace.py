"""``env.PUBSUB`` and friends: a namespace makes ids and stubs; a stub's methods call the object through a
transport. Deployed, the transport is a synchronous invoke of the durable host function; locally the same host
code runs in-process, behind the same JSON round trip (so what cannot cross Lambda fails locally too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ttai.bindings.common import error_code
from ttai.bindings.durable import wire
from ttai.bindings.durable.errors import InvalidId, ValueTooLarge
from ttai.bindings.durable.ids import DurableObjectId, IdFactory

if TYPE_CHECKING:
    from ttai.bindings.durable.host import DurableObjectHost


class Transport(Protocol):
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Deliver a host event and return the host's response envelope."""


class LocalTransport:
    """The host called in-process, through JSON both ways as a Lambda invoke would be."""

    def __init__(self, host: DurableObjectHost) -> None:
        self.host = host

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        request = json.loads(wire.to_json(event, "call"))
        response = self.host.handle(request)
        decoded: dict[str, Any] = json.loads(wire.to_json(response, "result"))
        return decoded


class LambdaTransport:
    """A synchronous (RequestResponse) invoke of the durable host function."""

    def __init__(self, function_name: str, *, client: Any = None) -> None:
        self.function_name = function_name
        if client is None:
            from ttai import aws  # noqa: PLC0415 - boto3 only when no client is injected

            client = aws.client("lambda")
        self._lambda = client

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - only callers on AWS pay for it

        try:
            response = self._lambda.invoke(
                FunctionName=self.function_name, InvocationType="RequestResponse", Payload=wire.to_json(event, "call")
            )
        except ClientError as exc:
            code = error_code(exc)
            if code in {"TooManyRequestsException", "EC2ThrottledException"}:
                return wire.error("Overloaded", "the Durable Object host is throttled", overloaded=True)
            if code in {"ServiceException", "ResourceNotReadyException"}:
                return wire.error("Unavailable", "the Durable Object host is unavailable", retryable=True)
            raise
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            # The host died (timeout, out of memory): whether the call's writes landed is unknown, so no retry flag.
            return wire.error("InternalError", f"the Durable Object host failed ({response['FunctionError']})")
        decoded: dict[str, Any] = json.loads(payload)
        return decoded


class LambdaEvents:
    """Fire-and-forget invokes (``InvocationType="Event"``): Lambda queues the event, runs the function soon after and
    retries a failed run twice. What hands work on without waiting for it: the api's quote batches to the realtime
    function, the hub's ``web_socket_close`` after a 410 to the durable host."""

    MAX_PAYLOAD_BYTES = 256 * 1024  # Lambda's limit for an asynchronous invoke

    def __init__(self, function_name: str, *, client: Any = None) -> None:
        self.function_name = function_name
        if client is None:
            from ttai import aws  # noqa: PLC0415 - boto3 only when no client is injected

            client = aws.client("lambda")
        self._lambda = client

    def __call__(self, event: dict[str, Any]) -> None:
        payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        if len(payload) > self.MAX_PAYLOAD_BYTES:
            raise ValueTooLarge(
                f"the event is {len(payload)} bytes; an asynchronous Lambda invoke carries at most "
                f"{self.MAX_PAYLOAD_BYTES} bytes"
            )
        self._lambda.invoke(FunctionName=self.function_name, InvocationType="Event", Payload=payload)


class DurableObjectStub:
    """Calls one object: ``stub.method(*args)`` runs the object's method and returns its result."""

    def __init__(self, id: DurableObjectId, transport: Transport) -> None:
        self._id = id
        self._transport = transport

    @property
    def id(self) -> DurableObjectId:
        return self._id

    @property
    def name(self) -> str | None:
        return self._id.name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            event = wire.call_event(self._id.namespace, str(self._id), self._id.name, method, args, kwargs)
            return wire.unwrap(self._transport.invoke(event))

        call.__name__ = method
        return call

    def __repr__(self) -> str:
        return f"DurableObjectStub({self._id!r})"


class DurableObjectNamespace:
    """One Durable Object binding: ids (``id_from_name``, ``new_unique_id``, ``id_from_string``) and stubs."""

    def __init__(self, name: str, transport: Transport) -> None:
        self._ids = IdFactory(name)
        self.name = name
        self._transport = transport

    def id_from_name(self, name: str) -> DurableObjectId:
        """The id of the object called ``name`` in this namespace: always the same, and another in others."""
        return self._ids.from_name(name)

    def new_unique_id(self) -> DurableObjectId:
        return self._ids.unique()

    def id_from_string(self, hex_id: str) -> DurableObjectId:
        """The id ``str(id)`` wrote; raises InvalidId for anything else, ids of other namespaces included."""
        return self._ids.from_string(hex_id)

    def get(self, id: DurableObjectId) -> DurableObjectStub:
        """A stub for ``id`` (no call is made: the object exists from its first call)."""
        if not isinstance(id, DurableObjectId):
            raise InvalidId(f"get() takes an id from this namespace, not {type(id).__name__} (use id_from_string)")
        if id.namespace != self.name:
            raise InvalidId(f"that id belongs to namespace {id.namespace}, not {self.name}")
        return DurableObjectStub(id, self._transport)

    def get_by_name(self, name: str) -> DurableObjectStub:
        return self.get(self.id_from_name(name))

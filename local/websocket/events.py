"""The events an API Gateway WebSocket API sends: to its REQUEST authorizer on ``$connect``, and to the Lambda proxy
integrations of ``$connect``, message routes and ``$disconnect``; plus how a message picks its route.

Shapes follow API Gateway's documented examples (and Powertools' parser models, which tests validate against):
``requestContext`` carries routeKey, eventType, connectionId, connectedAt, requestId ... and, once a Lambda
authorizer allowed the connection, ``authorizer`` (principalId, its context, integrationLatency) on every later
event of that connection.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CONNECT = "$connect"
DISCONNECT = "$disconnect"
DEFAULT = "$default"
_BODY_PREFIX = "$request.body."


def new_id() -> str:
    """An id shaped as API Gateway's connection, message and request ids ("L0SM9cOFvHcCIhw="): 11 random bytes in
    URL-safe base64, so its trailing ``=`` is percent-encoded in @connections paths as it is on AWS."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode("ascii")


def epoch_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso8601(ms: int) -> str:
    """How @connections reports connectedAt / lastActiveAt (botocore parses it into a datetime)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


@dataclass(frozen=True, slots=True)
class Api:
    """What every event names: the API, its stage and where it is reached."""

    api_id: str
    stage: str
    region: str
    account_id: str

    def route_arn(self, route_key: str) -> str:
        """The authorizer's methodArn: no HTTP method, the route key last."""
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/{route_key}"


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the upgrade request carried, kept for the connection's later events."""

    headers: tuple[tuple[str, str], ...]  # as received, original case and order
    query: tuple[tuple[str, str], ...]
    source_ip: str
    user_agent: str | None
    domain_name: str  # the Host the client used

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        found = [value for key, value in self.headers if key.lower() == wanted]
        return found[-1] if found else None

    def query_value(self, name: str) -> str | None:
        found = [value for key, value in self.query if key == name]
        return found[-1] if found else None

    def identity(self) -> dict[str, str]:
        identity = {"sourceIp": self.source_ip}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        return identity


@dataclass(frozen=True, slots=True)
class Connection:
    """Who a later event is about: the connection's id, when it opened and what its authorizer said."""

    connection_id: str
    connected_at: int  # epoch ms
    handshake: Handshake
    authorizer: dict[str, Any] | None


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """API Gateway's v1 pair of maps: the last value of each name, and every value in order."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _request_context(api: Api, connection: Connection, route_key: str, event_type: str, **extra: Any) -> dict[str, Any]:
    now = epoch_ms()
    request_id = new_id()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": _request_time(now),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": connection.connected_at,
        "requestTimeEpoch": now,
        "identity": connection.handshake.identity(),
        "requestId": request_id,
        "domainName": connection.handshake.domain_name,
        "connectionId": connection.connection_id,
        "apiId": api.api_id,
        **extra,
    }
    if connection.authorizer is not None:
        context["authorizer"] = dict(connection.authorizer)
    return context


def _forwarded_headers(handshake: Handshake) -> list[tuple[str, str]]:
    """The headers API Gateway passes on: the client's, plus the X-Forwarded-* its front end adds."""
    return [
        *handshake.headers,
        ("X-Forwarded-For", handshake.source_ip),
        ("X-Forwarded-Proto", "http"),
    ]


def authorizer_event(api: Api, connection: Connection) -> dict[str, Any]:
    """The REQUEST authorizer's input (methodArn ends in ``/$connect``)."""
    headers, multi_headers = _single_and_multi(_forwarded_headers(connection.handshake))
    query, multi_query = _single_and_multi(connection.handshake.query)
    return {
        "type": "REQUEST",
        "methodArn": api.route_arn(CONNECT),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": {},
        "requestContext": _request_context(api, connection, CONNECT, "CONNECT"),
    }


def connect_event(api: Api, connection: Connection) -> dict[str, Any]:
    headers, multi_headers = _single_and_multi(_forwarded_headers(connection.handshake))
    event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
    if connection.handshake.query:
        query, multi_query = _single_and_multi(connection.handshake.query)
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = _request_context(api, connection, CONNECT, "CONNECT")
    event["isBase64Encoded"] = False
    return event


def message_event(api: Api, connection: Connection, route_key: str, body: str) -> dict[str, Any]:
    return {
        "requestContext": _request_context(api, connection, route_key, "MESSAGE", messageId=new_id()),
        "body": body,
        "isBase64Encoded": False,
    }


def disconnect_event(api: Api, connection: Connection, status_code: int, reason: str) -> dict[str, Any]:
    # API Gateway no longer has the client's headers at this point: it sends these few, mostly empty.
    headers = [
        ("Host", connection.handshake.domain_name),
        ("x-api-key", ""),
        ("X-Forwarded-For", ""),
        ("x-restapi", ""),
    ]
    single, multi = _single_and_multi(headers)
    context = _request_context(
        api, connection, DISCONNECT, "DISCONNECT", disconnectStatusCode=status_code, disconnectReason=reason
    )
    return {"headers": single, "multiValueHeaders": multi, "requestContext": context, "isBase64Encoded": False}


class RouteSelection:
    """A route selection expression of the form ``$request.body.<path>`` (``$request.body.action`` by default)."""

    def __init__(self, expression: str) -> None:
        path = expression.removeprefix(_BODY_PREFIX)
        if path == expression or not path or any(not part for part in path.split(".")):
            raise ValueError(
                f"unsupported route selection expression {expression!r}: the local gateway takes $request.body.<path>"
            )
        self.expression = expression
        self._path = tuple(path.split("."))

    def select(self, body: str, route_keys: Collection[str]) -> str:
        """The route whose key equals the value at the expression's path; ``$default`` for anything else
        (a body that is not JSON, no such field, a value that is not a string, or no route with that key)."""
        try:
            value: Any = json.loads(body)
        except ValueError:
            return DEFAULT
        for part in self._path:
            if not isinstance(value, dict) or part not in value:
                return DEFAULT
            value = value[part]
        if isinstance(value, str) and value in route_keys and value not in {CONNECT, DISCONNECT, DEFAULT}:
            return value
        return DEFAULT

"""The realtime function's handler: API Gateway WebSocket events (``$connect``, ``$default``, ``$disconnect``) and
the quote batches the api hands over.

- ``$connect`` (after the ticket authorizer let the connection in): the connection is recorded and handed to its
  home object (``home.connect(ws, user_id)``: the user's Subscriptions object), which accepts it; anything failing
  refuses the upgrade (500, or 503 when the object was busy), nothing left behind.
- ``$default``: the message goes to the connection's home object as ``web_socket_message`` through the durable host
  (one GetItem finds the home); an object that is busy or unavailable gets the client an error frame. Each message
  is an invocation of its own, so two a client sends at once may be handled in either order: clients wait for the
  answer to a subscribe before sending the next frame that depends on it.
- ``$disconnect`` (best effort on AWS: rows expire anyway): the connection is removed from every object holding it
  and its home gets ``web_socket_close``.
Every route answers 200 once handled: API Gateway only reads ``$connect``'s status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ttai.bindings.durable import DurableObjectError
from ttai.bindings.durable.connections import close_event, websocket_event
from ttai.observability import logger
from ttai.realtime.publish import QUOTES_EVENT, on_quotes
from ttai.realtime.runtime import Realtime

OK = {"statusCode": 200}
# Close codes that mean a close handshake happened (anything but "no status" and "abnormal closure").
_UNCLEAN = frozenset({1005, 1006})


def handle(event: Mapping[str, Any], realtime: Realtime) -> dict[str, Any]:
    """One event of the realtime function."""
    context = event.get("requestContext") or {}
    kind = context.get("eventType")
    if kind == "CONNECT":
        return on_connect(event, realtime)
    if kind == "MESSAGE":
        return on_message(event, realtime)
    if kind == "DISCONNECT":
        return on_disconnect(event, realtime)
    if event.get("kind") == QUOTES_EVENT:
        return on_quotes(realtime.env, realtime.publisher, event)
    raise ValueError("the realtime function takes WebSocket route events and quote batches")


def on_connect(event: Mapping[str, Any], realtime: Realtime) -> dict[str, Any]:
    context = event["requestContext"]
    connection_id = context["connectionId"]
    user_id = (context.get("authorizer") or {}).get("user_id")
    if not isinstance(user_id, str) or not user_id:
        logger.error("$connect without the authorizer's user: is the ticket authorizer attached?")
        return {"statusCode": 403}
    realtime.hub.open(connection_id, user_id)
    try:
        realtime.home(user_id).connect(realtime.hub.socket(connection_id), user_id)
    except DurableObjectError as exc:
        logger.warning("connection not accepted", extra={"error": exc.name, "retryable": exc.retryable})
        realtime.hub.remove(connection_id)
        return {"statusCode": 503 if exc.retryable or exc.overloaded else 500}
    return OK


def on_message(event: Mapping[str, Any], realtime: Realtime) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    row = realtime.hub.connection(connection_id)
    if row is None or row.home is None:
        logger.warning("message from a connection no object holds", extra={"connection_id": connection_id})
        return OK
    body = event.get("body")
    answer = realtime.host.invoke(
        websocket_event(row.home, connection_id, "message", message=body if isinstance(body, str) else "")
    )
    if not answer.get("ok"):
        error = answer.get("error") or {}
        logger.warning("message not delivered", extra={"error": error.get("name"), "remote": error.get("remote")})
        if error.get("retryable") or error.get("overloaded"):
            frame = {"type": "error", "error": {"code": "unavailable", "message": "busy: send it again shortly"}}
            realtime.hub.socket(connection_id).send(json.dumps(frame, separators=(",", ":")))
    return OK


def on_disconnect(event: Mapping[str, Any], realtime: Realtime) -> dict[str, Any]:
    context = event["requestContext"]
    departure = realtime.hub.remove(context["connectionId"])
    if departure is None or departure.home is None:
        return OK  # removed already (a 410 found it gone first)
    code = context.get("disconnectStatusCode")
    code = code if isinstance(code, int) else 1005
    reason = str(context.get("disconnectReason") or "")
    answer = realtime.host.invoke(close_event(departure, code, reason, was_clean=code not in _UNCLEAN))
    if not answer.get("ok"):
        logger.warning("web_socket_close not delivered", extra={"error": (answer.get("error") or {}).get("name")})
    return OK

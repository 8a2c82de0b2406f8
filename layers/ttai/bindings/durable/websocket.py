"""The hibernation WebSocket API an object sees: ``ctx.accept_websocket`` / ``get_websockets`` / ``get_tags`` (an
:class:`ObjectSockets`, one per call) and the ``ws`` handles they give (:class:`WebSocket`).

As on Cloudflare: at most 10 tags of at most 256 characters, fixed when the socket is accepted; an attachment of at
most 2,048 bytes serialized (in the codec's form, as storage keeps values), kept with the socket and read back after
hibernation; an object built afresh for every call still finds its sockets, their tags and attachments; within a
call, one connection is one ``ws`` object. Messages a call sends and attachments it sets are kept until the call's
writes are stored, then written and sent before the object takes another call (Cloudflare's output gate); each
connection's messages in order. An attachment set before the socket is accepted goes in with the accept.

Where AWS differs, the API says so or goes further:
- ``close(code, reason)`` takes 1000 and no reason only (DeleteConnection sets neither); a message is at most
  API Gateway's 128 KB.
- A connection may be held by more than one object (Cloudflare ties a socket to the object that made it): an object
  that is handed a ``ws`` in an RPC call can accept it too, and ``release_websocket`` lets go of a socket without
  closing the connection (what unsubscribing needs). Its messages and its close go to the object that accepted it
  first, its home.
- ``send`` to a connection that has gone (410) does not raise: the connection is forgotten everywhere and its home
  object gets ``web_socket_close`` (1006), best effort.
- ``web_socket_error`` is never called: API Gateway reports no socket error other than a close.
- A connection's messages may reach ``web_socket_message`` out of order: API Gateway invokes ``$default`` once per
  message, concurrently (Cloudflare delivers them in order). The object still takes them one at a time; a client
  that needs an order waits for each answer before sending the next.
- Cloudflare's 32,768 sockets per object are not counted (it would cost a query per accept).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ttai.bindings.durable import codec
from ttai.bindings.durable.connections import (
    ATTACHMENT,
    CONNECTED_AT,
    HOLDERS,
    HOME,
    SOCKET_PREFIX,
    SOCKETS_MARK,
    TAGS,
    ConnectionHub,
    socket_state,
)
from ttai.bindings.durable.errors import AttachmentTooLarge, InvalidWebSocket, MessageTooLarge, UnsupportedClose

if TYPE_CHECKING:
    from ttai.bindings.durable.ids import DurableObjectId

MAX_TAGS = 10
MAX_TAG_CHARACTERS = 256
MAX_ATTACHMENT_BYTES = 2048
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's message quota
NORMAL_CLOSURE = 1000
_UNLOADED: Any = object()


class WebSocket:
    """``ws``: one API Gateway connection as one object sees it (its tags and attachment are that object's)."""

    # The codec sends a WebSocket in an RPC call as its connection id (codec.py).
    _crosses_rpc_as_connection = True
    CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

    def __init__(
        self,
        hub: ConnectionHub,
        connection_id: str,
        sockets: ObjectSockets | None = None,
        *,
        tags: list[str] | None = None,
        attachment: str | None = _UNLOADED,
    ) -> None:
        self._hub = hub
        self.connection_id = connection_id
        self._sockets = sockets
        # What the holding object stored: loaded lazily (one GetItem) unless the host or a listing brought it.
        self._loaded = attachment is not _UNLOADED
        self._held = self._loaded and tags is not None
        self._tags = list(tags or [])
        self._attachment: str | None = None if attachment is _UNLOADED else attachment
        self.ready_state = WebSocket.OPEN

    def __repr__(self) -> str:
        return f"WebSocket({self.connection_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WebSocket) and other.connection_id == self.connection_id

    def __hash__(self) -> int:
        return hash(self.connection_id)

    # --------------------------------------------------------------- messages

    def send(self, message: str | bytes) -> None:
        """Queue ``message`` for the client: it goes out when the call's writes are stored (at once outside an
        object). Text is sent as UTF-8; bytes as they are."""
        if isinstance(message, str):
            data = message.encode("utf-8", errors="strict")
        elif isinstance(message, bytes):
            data = message
        else:
            raise InvalidWebSocket(f"send takes str or bytes, not {type(message).__name__}")
        if len(data) > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(
                f"the message is {len(data)} bytes; API Gateway posts at most {MAX_MESSAGE_BYTES} bytes (128 KB) "
                "to a connection (Cloudflare sends up to 32 MiB)"
            )
        if self.ready_state == WebSocket.CLOSED:
            return  # gone: Cloudflare drops what is sent to a closed hibernated socket too
        if self._sockets is not None:
            self._sockets._queue(self.connection_id, data)
        elif not self._hub.post(self.connection_id, data):
            self.ready_state = WebSocket.CLOSED

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection (API Gateway runs ``$disconnect`` next). Only 1000 without a reason: API Gateway's
        DeleteConnection can set neither."""
        if code not in (None, NORMAL_CLOSURE) or reason:
            raise UnsupportedClose(
                f"close({code!r}, {reason!r}): API Gateway closes a connection with 1000 and no reason only "
                "(DeleteConnection takes neither); call close() or close(1000)"
            )
        self.ready_state = WebSocket.CLOSING
        self._hub.close(self.connection_id)
        self.ready_state = WebSocket.CLOSED

    # ------------------------------------------------------------ attachment

    def serialize_attachment(self, value: Any) -> None:
        """Keep ``value`` with the socket (at most 2,048 bytes serialized); it survives hibernation."""
        text = codec.dumps(value)
        size = len(text.encode("utf-8"))
        if size > MAX_ATTACHMENT_BYTES:
            raise AttachmentTooLarge(
                f"the attachment is {size} bytes serialized; Cloudflare allows at most {MAX_ATTACHMENT_BYTES}"
            )
        self._attachment = text
        if self._sockets is not None:
            self._sockets._attachment_set(self.connection_id, text)

    def deserialize_attachment(self) -> Any:
        """The value ``serialize_attachment`` kept, or None."""
        self._load()
        return codec.loads(self._attachment) if self._attachment is not None else None

    # ----------------------------------------------------------------- state

    def _load(self) -> None:
        if self._loaded or self._sockets is None:
            return
        found = self._sockets._read(self.connection_id)
        if found is not None:
            self._tags, stored = found
            if not self._sockets._attachment_pending(self.connection_id):
                self._attachment = stored
            self._held = True
        self._loaded = True


class ObjectSockets:
    """One object's sockets for one call: the ``WebSocketHub`` the host gives ``ctx``."""

    def __init__(self, hub: ConnectionHub, id: DurableObjectId, partition: str) -> None:
        self.hub = hub
        self.id = id
        self.partition = partition
        self._handles: dict[str, WebSocket] = {}
        self._outbox: dict[str, list[bytes]] = {}
        self._attachments: dict[str, str] = {}  # set in this call, written when it ends

    def handle(self, connection_id: str, *, tags: list[str] | None = None, attachment: Any = _UNLOADED) -> WebSocket:
        """This object's ``ws`` for a connection (an RPC argument, the socket an event is about, a listing's):
        the same object for the same connection throughout the call."""
        if not isinstance(connection_id, str) or not connection_id:
            raise InvalidWebSocket(f"not a connection id: {connection_id!r:.80}")
        ws = self._handles.get(connection_id)
        if ws is None:
            ws = self._handles[connection_id] = WebSocket(
                self.hub, connection_id, self, tags=tags, attachment=attachment
            )
        elif tags is not None and attachment is not _UNLOADED:  # fresher state from a listing or an event
            ws._tags, ws._loaded, ws._held = list(tags), True, True
            if connection_id not in self._attachments:
                ws._attachment = attachment
        return ws

    # --------------------------------------------------------------- the API

    def accept_websocket(self, ws: Any, tags: Iterable[str] = ()) -> None:
        """Hold ``ws`` with ``tags`` (at most 10, each at most 256 characters); one TransactWriteItems."""
        if not isinstance(ws, WebSocket):
            raise InvalidWebSocket(f"accept_websocket takes a WebSocket, not {type(ws).__name__}")
        chosen = _check_tags(tags)
        if ws._sockets is not self:
            pending = ws._attachment
            ws = self.handle(ws.connection_id)
            ws._attachment = pending if pending is not None else ws._attachment
        hub, lay = self.hub, self.hub.layout
        now = time.time()
        expires = {"N": str(hub.expires_at(now))}
        socket = hub.socket_key(self.partition, ws.connection_id)
        socket[TAGS] = {"L": [{"S": tag} for tag in chosen]}
        socket[CONNECTED_AT] = {"N": str(int(now * 1000))}
        socket[lay.ttl_attr] = expires
        if ws._attachment is not None:
            socket[ATTACHMENT] = {"S": ws._attachment}
        mark = hub.key(self.partition, SOCKETS_MARK)
        mark[lay.ttl_attr] = expires
        actions = [
            {
                "Update": {
                    "TableName": hub.table,
                    "Key": hub.connection_key(ws.connection_id),
                    "UpdateExpression": "SET #home = if_not_exists(#home, :me) ADD #holders :us",
                    "ConditionExpression": "attribute_exists(#pk)",
                    "ExpressionAttributeNames": {"#home": HOME, "#holders": HOLDERS, "#pk": lay.partition_attr},
                    "ExpressionAttributeValues": {":me": {"S": self.partition}, ":us": {"SS": [self.partition]}},
                }
            },
            {
                "Put": {
                    "TableName": hub.table,
                    "Item": socket,
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": lay.partition_attr},
                }
            },
            {"Put": {"TableName": hub.table, "Item": mark}},
        ]
        try:
            hub.dynamodb.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                ws.ready_state = WebSocket.CLOSED
                raise InvalidWebSocket(f"connection {ws.connection_id} has closed: it cannot be accepted") from exc
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                raise InvalidWebSocket("this object has already accepted that WebSocket") from exc
            raise
        self._attachments.pop(ws.connection_id, None)  # written with the accept
        ws._tags, ws._loaded, ws._held = chosen, True, True

    def get_websockets(self, tag: str | None = None) -> list[WebSocket]:
        """The sockets this object holds (with ``tag``, those tagged so): one Query page per 1 MB of them."""
        if tag is not None and not isinstance(tag, str):
            raise InvalidWebSocket(f"a tag is a string, not {type(tag).__name__}")
        hub, lay = self.hub, self.hub.layout
        request: dict[str, Any] = {
            "TableName": hub.table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :socket)",
            "FilterExpression": "#exp > :now",
            "ExpressionAttributeNames": {"#pk": lay.partition_attr, "#sk": lay.sort_attr, "#exp": lay.ttl_attr},
            "ExpressionAttributeValues": {
                ":pk": {"S": self.partition},
                ":socket": {"S": SOCKET_PREFIX},
                ":now": {"N": str(int(time.time()))},
            },
            "ConsistentRead": True,
        }
        if tag is not None:
            request["FilterExpression"] += " AND contains(#tags, :tag)"
            request["ExpressionAttributeNames"]["#tags"] = TAGS
            request["ExpressionAttributeValues"][":tag"] = {"S": tag}
        found = []
        while True:
            response = hub.dynamodb.query(**request)
            for item in response.get("Items", []):
                tags, attachment = socket_state(item)
                connection_id = item[lay.sort_attr]["S"].removeprefix(SOCKET_PREFIX)
                found.append(self.handle(connection_id, tags=tags, attachment=attachment))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        if tag is None and not found:
            # Holding none: publishers may skip this object until it accepts one again (this call holds its lease,
            # so no accept races this delete).
            hub.dynamodb.delete_item(TableName=hub.table, Key=hub.key(self.partition, SOCKETS_MARK))
        return found

    def get_tags(self, ws: Any) -> list[str]:
        held = self._held_socket(ws)
        return list(held._tags)

    def release_websocket(self, ws: Any) -> bool:
        """Stop holding ``ws`` without closing the connection (not in Cloudflare's API: what unsubscribing from
        one object's sockets needs here, where a connection may be held by several). True if it was held."""
        if not isinstance(ws, WebSocket):
            raise InvalidWebSocket(f"release_websocket takes a WebSocket, not {type(ws).__name__}")
        hub, lay = self.hub, self.hub.layout
        old = hub.dynamodb.delete_item(
            TableName=hub.table, Key=hub.socket_key(self.partition, ws.connection_id), ReturnValues="ALL_OLD"
        ).get("Attributes")
        if not old:
            return False
        try:
            hub.dynamodb.update_item(
                TableName=hub.table,
                Key=hub.connection_key(ws.connection_id),
                UpdateExpression="DELETE #holders :us",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#holders": HOLDERS, "#pk": lay.partition_attr},
                ExpressionAttributeValues={":us": {"SS": [self.partition]}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # The connection left meanwhile: its row is gone, nothing to update.
        mine = self._handles.get(ws.connection_id)
        if mine is not None:
            mine._held, mine._tags = False, []
        self._attachments.pop(ws.connection_id, None)
        return True

    # --------------------------------------------------------------- the host

    def pending(self) -> bool:
        """Messages or attachments this call left waiting for its writes."""
        return bool(self._outbox or self._attachments)

    def flush(self) -> int:
        """Write the attachments the call set, then send the messages it queued (the host calls this once its
        storage writes are stored); returns how many connections were gone."""
        attachments, self._attachments = self._attachments, {}
        for connection_id, text in attachments.items():
            if not self._store_attachment(connection_id, text):
                # Not held here (released, or gone meanwhile): nothing to keep it with.
                self._handles.pop(connection_id, None)
        outbox, self._outbox = self._outbox, {}
        return self.hub.send_all(outbox) if outbox else 0

    def _queue(self, connection_id: str, data: bytes) -> None:
        self._outbox.setdefault(connection_id, []).append(data)

    def _attachment_set(self, connection_id: str, text: str) -> None:
        self._attachments[connection_id] = text

    def _attachment_pending(self, connection_id: str) -> bool:
        return connection_id in self._attachments

    def _held_socket(self, ws: Any) -> WebSocket:
        if not isinstance(ws, WebSocket):
            raise InvalidWebSocket(f"not a WebSocket: {type(ws).__name__}")
        mine = ws if ws._sockets is self else self.handle(ws.connection_id)
        mine._load()
        if not mine._held:
            raise InvalidWebSocket(f"this object does not hold connection {mine.connection_id}")
        return mine

    def _read(self, connection_id: str) -> tuple[list[str], str | None] | None:
        item = self.hub.dynamodb.get_item(
            TableName=self.hub.table, Key=self.hub.socket_key(self.partition, connection_id), ConsistentRead=True
        ).get("Item")
        return socket_state(item) if item and self.hub.live(item) else None

    def _store_attachment(self, connection_id: str, text: str) -> bool:
        """Write the attachment on this object's socket (one UpdateItem); False if the object does not hold it."""
        lay = self.hub.layout
        try:
            self.hub.dynamodb.update_item(
                TableName=self.hub.table,
                Key=self.hub.socket_key(self.partition, connection_id),
                UpdateExpression="SET #att = :att",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#att": ATTACHMENT, "#pk": lay.partition_attr},
                ExpressionAttributeValues={":att": {"S": text}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True


def _check_tags(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str | bytes):
        raise InvalidWebSocket("tags is a list of strings, not one string")
    chosen = list(tags)
    if len(chosen) > MAX_TAGS:
        raise InvalidWebSocket(f"a WebSocket takes at most {MAX_TAGS} tags, got {len(chosen)}")
    for tag in chosen:
        if not isinstance(tag, str) or not tag:
            raise InvalidWebSocket(f"a tag is a non-empty string, not {tag!r:.80}")
        if len(tag) > MAX_TAG_CHARACTERS:
            raise InvalidWebSocket(f"a tag is at most {MAX_TAG_CHARACTERS} characters, got {len(tag)}")
        try:
            tag.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidWebSocket("a tag must be valid Unicode text") from exc
    return chosen

"""Hibernation WebSockets on API Gateway: the connections table, and the hub that posts to, closes and forgets
connections (API Gateway's @connections API) and gives each object its view of the sockets it holds.

One table (storage.json ``websockets``; key and TTL attribute names from ttai.layout), these items:

============  =============================  ====================================================================
item          partition / sort key           attributes
============  =============================  ====================================================================
connection    ``conn#`` + id / ``#``         ``user`` (whom the $connect authorizer let in), ``at`` (connected, ms),
                                             ``home`` (the partition of the object that accepted it first: the
                                             connection's messages and close go there), ``holders`` (string set:
                                             every object partition holding it), ``exp``
socket        object partition /             ``tags`` (list of strings), ``att`` (the attachment, tagged JSON as
              ``c:`` + id                    storage keeps values), ``at`` (accepted, ms), ``exp``
sockets mark  object partition /             ``exp``: the object accepted a socket that may still be open, so a
              ``#sockets``                   publisher asks it; one BatchGetItem tells 100 objects apart
ticket        ``ticket#`` + SHA-256 / ``#``  ``user``, ``expires`` (ms): ttai.realtime.tickets
============  =============================  ====================================================================

Object partitions are the Durable Objects table's (``<namespace>#<id>``), so one Query on a partition lists an
object's sockets: a page per 1 MB of them. Every item expires (``exp``, DynamoDB TTL) at its write + API Gateway's
2 h connection limit + a margin, which clears what a missed ``$disconnect`` (best effort on AWS) left behind; reads
skip expired rows TTL has not yet deleted.

A connection leaves by ``$disconnect`` or by a post that answers 410 Gone (the client vanished): either way
``remove`` deletes its rows in every object holding it, and its home object gets ``web_socket_close`` (the
$disconnect handler delivers it; after a 410 the hub dispatches it, best effort, through ``deliver``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ttai.bindings.common import retry_unprocessed
from ttai.bindings.durable.connections_api import ConnectionsApiError
from ttai.bindings.durable.items import DurableTable
from ttai.layout import WebSocketLayout, storage_layout
from ttai.observability import logger

if TYPE_CHECKING:
    from ttai.bindings.durable.ids import DurableObjectId
    from ttai.bindings.durable.websocket import ObjectSockets, WebSocket

CONNECTION_PREFIX = "conn#"
TICKET_PREFIX = "ticket#"
ROW_SORT_KEY = "#"  # the one item of a connection's or a ticket's partition
SOCKET_PREFIX = "c:"
SOCKETS_MARK = "#sockets"
USER = "user"
CONNECTED_AT = "at"
HOME = "home"
HOLDERS = "holders"
TAGS = "tags"
ATTACHMENT = "att"
BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25
DEPENDENCY = "WebSocket connections"
# A vanished client (410) closes as an abnormal closure would: no close frame was exchanged.
GONE_CODE = 1006
Deliver = Callable[[dict[str, Any]], None]


class ManagementApi(Protocol):
    """The @connections operations the hub uses (connections_api.ConnectionsApi); False means 410 Gone."""

    def post(self, connection_id: str, data: bytes) -> bool: ...

    def delete(self, connection_id: str) -> bool: ...


class Departure(NamedTuple):
    """A connection that left, as its home object last held it: what ``web_socket_close`` is given."""

    connection_id: str
    user: str | None
    home: str | None
    tags: list[str]
    attachment: str | None


class ConnectionRow(NamedTuple):
    user: str | None
    home: str | None
    holders: frozenset[str]
    connected_at_ms: int


class ConnectionHub:
    """The connections table and the @connections API, shared by every object a host runs.

    ``management`` is the stage's @connections API (connections_api.py); ``deliver`` sends a host event without
    waiting (an asynchronous invoke of the durable host, locally a worker thread), used for
    the ``web_socket_close`` a 410 causes. ``senders`` posts run in parallel when a call ends with many messages
    queued (a publish to a thousand subscribers).
    """

    def __init__(
        self,
        table: str,
        *,
        dynamodb: Any,
        management: ManagementApi,
        layout: WebSocketLayout | None = None,
        deliver: Deliver | None = None,
        senders: int = 32,
    ) -> None:
        self.table = table
        self.layout = layout or storage_layout().websockets
        self.dynamodb = dynamodb
        self.management = management
        self.deliver = deliver
        self.senders = senders
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # ------------------------------------------------------------------ keys

    def key(self, partition: str, sort_key: str) -> dict[str, Any]:
        return {self.layout.partition_attr: {"S": partition}, self.layout.sort_attr: {"S": sort_key}}

    def connection_key(self, connection_id: str) -> dict[str, Any]:
        return self.key(CONNECTION_PREFIX + connection_id, ROW_SORT_KEY)

    def socket_key(self, partition: str, connection_id: str) -> dict[str, Any]:
        return self.key(partition, SOCKET_PREFIX + connection_id)

    def expires_at(self, now: float | None = None) -> int:
        """The TTL (epoch seconds) of a row written now: no connection opened by then outlives it."""
        return int(now if now is not None else time.time()) + self.layout.row_lifetime_seconds

    def live(self, item: Mapping[str, Any]) -> bool:
        """An item TTL has not expired yet (DynamoDB deletes expired items up to days late)."""
        expiry = item.get(self.layout.ttl_attr, {}).get("N")
        return expiry is None or int(expiry) > time.time()

    # ------------------------------------------------------------ connections

    def open(self, connection_id: str, user: str) -> None:
        """Record a connection ``$connect`` let in (one PutItem), before an object accepts it."""
        now = time.time()
        item = self.connection_key(connection_id)
        item[USER] = {"S": user}
        item[CONNECTED_AT] = {"N": str(int(now * 1000))}
        item[self.layout.ttl_attr] = {"N": str(self.expires_at(now))}
        self.dynamodb.put_item(TableName=self.table, Item=item)

    def connection(self, connection_id: str) -> ConnectionRow | None:
        """The connection's row (one consistent GetItem), or None once it has left."""
        item = self.dynamodb.get_item(
            TableName=self.table, Key=self.connection_key(connection_id), ConsistentRead=True
        ).get("Item")
        if not item or not self.live(item):
            return None
        return ConnectionRow(
            user=item.get(USER, {}).get("S"),
            home=item.get(HOME, {}).get("S"),
            holders=frozenset(item.get(HOLDERS, {}).get("SS", ())),
            connected_at_ms=int(item.get(CONNECTED_AT, {}).get("N", "0")),
        )

    def socket(self, connection_id: str) -> WebSocket:
        """A handle on a connection for code outside any object (the $connect handler passes it to one)."""
        from ttai.bindings.durable.websocket import WebSocket  # noqa: PLC0415 - the two modules refer to each other

        return WebSocket(self, connection_id)

    def sockets_of(self, id: DurableObjectId) -> ObjectSockets:
        """The object's view for one call: what the host gives ``ctx`` (accept_websocket, get_websockets...)."""
        from ttai.bindings.durable.websocket import ObjectSockets  # noqa: PLC0415

        return ObjectSockets(self, id, DurableTable.partition(id.namespace, str(id)))

    def listening(self, partitions: Iterable[str]) -> set[str]:
        """The object partitions that may hold sockets (their mark is live): one BatchGetItem per 100."""
        wanted = list(dict.fromkeys(partitions))
        found: set[str] = set()
        lay = self.layout
        for start in range(0, len(wanted), BATCH_GET_MAX):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [self.key(p, SOCKETS_MARK) for p in wanted[start : start + BATCH_GET_MAX]],
                    "ProjectionExpression": "#pk, #exp",
                    "ExpressionAttributeNames": {"#pk": lay.partition_attr, "#exp": lay.ttl_attr},
                }
            }
            responses = retry_unprocessed(
                lambda pending: self.dynamodb.batch_get_item(RequestItems=pending),
                request,
                leftover="UnprocessedKeys",
                dependency=DEPENDENCY,
            )
            for response in responses:
                for item in response.get("Responses", {}).get(self.table, []):
                    if self.live(item):
                        found.add(item[lay.partition_attr]["S"])
        return found

    # ---------------------------------------------------------------- leaving

    def remove(self, connection_id: str) -> Departure | None:
        """Forget a connection that left: its row and its socket in every object holding it. Returns how its home
        held it (for ``web_socket_close``), or None when it was already gone (another path removed it first)."""
        old = self.dynamodb.delete_item(
            TableName=self.table, Key=self.connection_key(connection_id), ReturnValues="ALL_OLD"
        ).get("Attributes")
        if not old:
            return None
        home = old.get(HOME, {}).get("S")
        holders = set(old.get(HOLDERS, {}).get("SS", ()))
        tags: list[str] = []
        attachment = None
        if home is not None:
            socket = self.dynamodb.delete_item(
                TableName=self.table, Key=self.socket_key(home, connection_id), ReturnValues="ALL_OLD"
            ).get("Attributes")
            if socket:
                tags, attachment = socket_state(socket)
            holders.discard(home)
        self._delete_sockets(sorted(holders), connection_id)
        return Departure(connection_id, old.get(USER, {}).get("S"), home, tags, attachment)

    def _delete_sockets(self, partitions: Sequence[str], connection_id: str) -> None:
        for start in range(0, len(partitions), BATCH_WRITE_MAX):
            chunk = partitions[start : start + BATCH_WRITE_MAX]
            request = {self.table: [{"DeleteRequest": {"Key": self.socket_key(p, connection_id)}} for p in chunk]}
            for _ in retry_unprocessed(
                lambda pending: self.dynamodb.batch_write_item(RequestItems=pending),
                request,
                leftover="UnprocessedItems",
                dependency=DEPENDENCY,
            ):
                pass

    def gone(self, connection_id: str) -> None:
        """A post answered 410: the client vanished. Forget it and tell its home object, best effort."""
        departure = self.remove(connection_id)
        if departure is None or departure.home is None:
            return
        event = close_event(departure, GONE_CODE, "", was_clean=False)
        if self.deliver is None:
            logger.warning("no deliverer: web_socket_close not sent", extra={"connection_id": connection_id})
            return
        try:
            self.deliver(event)
        except Exception:  # noqa: BLE001 - best effort: the rows are gone either way, the home object only hears of it
            logger.exception("web_socket_close not delivered", extra={"connection_id": connection_id})

    # ------------------------------------------------------------ @connections

    def post(self, connection_id: str, data: bytes) -> bool:
        """PostToConnection; False (and the connection forgotten) when it answers 410 Gone."""
        if self.management.post(connection_id, data):
            return True
        self.gone(connection_id)
        return False

    def close(self, connection_id: str) -> None:
        """DeleteConnection: API Gateway closes it (code 1000) and runs ``$disconnect``, which forgets it."""
        if not self.management.delete(connection_id):
            self.gone(connection_id)

    def send_all(self, outbox: Mapping[str, Sequence[bytes]]) -> int:
        """Post every queued message, each connection's in order, connections in parallel; returns how many
        connections were gone. A connection whose post fails otherwise is logged and skipped: the call's work is
        done and committed, as a Cloudflare ``send`` to a broken socket does not fail its caller."""

        def deliver_to(connection_id: str) -> bool:
            for data in outbox[connection_id]:
                try:
                    if not self.post(connection_id, data):
                        return False
                except ConnectionsApiError as exc:
                    logger.warning(
                        "post failed",
                        extra={"connection_id": connection_id, "status": exc.status, "type": exc.error_type},
                    )
                    return True
            return True

        ids = list(outbox)
        if len(ids) == 1:
            return 0 if deliver_to(ids[0]) else 1
        return sum(not delivered for delivered in self._executor().map(deliver_to, ids))

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="ws-post")
            return self._pool


def socket_state(item: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """A socket item's tags and attachment text."""
    tags = [value["S"] for value in item.get(TAGS, {}).get("L", [])]
    return tags, item.get(ATTACHMENT, {}).get("S")


def websocket_event(partition: str, connection_id: str, event: str, **fields: Any) -> dict[str, Any]:
    """A host event delivering a hibernation WebSocket event to the object at ``partition``."""
    namespace, hex_id = DurableTable.split_partition(partition)
    return {
        "kind": "websocket",
        "event": event,
        "namespace": namespace,
        "id": hex_id,
        "connection_id": connection_id,
        **fields,
    }


def close_event(departure: Departure, code: int, reason: str, *, was_clean: bool) -> dict[str, Any]:
    assert departure.home is not None
    return websocket_event(
        departure.home,
        departure.connection_id,
        "close",
        code=code,
        reason=reason,
        was_clean=was_clean,
        tags=departure.tags,
        attachment=departure.attachment,
    )

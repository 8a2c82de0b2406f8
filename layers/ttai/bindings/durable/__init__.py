"""Cloudflare Durable Objects on AWS: the same API in snake_case and synchronous.

Worker code::

    class Counter(DurableObject):
        def add(self, n: int) -> int:
            total = (self.ctx.storage.get("total") or 0) + n
            self.ctx.storage.put("total", total)
            return total

    env.COUNTER.get_by_name("alice").add(5)

How it maps:

- **Ids** (ids.py) are 64 hex digits, HMAC-derived per namespace: ``id_from_name`` is deterministic,
  ``new_unique_id`` random, ``id_from_string`` refuses malformed ids and ids of other namespaces.
- **Calls**: a stub's method call is a synchronous invoke of the durable host function with
  ``{namespace, id, method, args}`` (namespace.py, wire.py); the host (host.py) runs it and answers with the
  result or an error carrying Cloudflare's ``remote`` / ``retryable`` / ``overloaded`` flags. Locally the same
  host runs in-process behind the same JSON round trip.
- **Storage** (storage.py, items.py) is one DynamoDB table: partition ``<namespace>#<id>``, sort key ``:`` + key,
  so a Query lists in UTF-8 byte order as Cloudflare does. A call's writes commit when it ends, in one
  transaction with the lease's release: durable before the result is returned.
- **Alarms** (alarms.py) are an item in the same partition, armed as an SQS delay (due within 15 min) or an
  EventBridge Scheduler one-time schedule; retried with Cloudflare's backoff. Locally a runner polls the table.
- **Hibernation**: an object is built afresh for every call (``cls(ctx, env)``), deployed and locally, so fields
  never carry over between calls; state lives in ``ctx.storage``.
- **WebSockets** (websocket.py, connections.py): API Gateway WebSocket connections held by objects, in a DynamoDB
  connections table (tags, attachments, the object each belongs to); ``ws.send`` is PostToConnection, sent when
  the call's writes are stored; ``web_socket_message`` / ``web_socket_close`` arrive as host events.

**One call at a time per object** is a DynamoDB lease per object (lease.py), fenced: a conditional UpdateItem
takes it (owner, expiry, a fence number incremented per acquisition), every write of the call is conditional on
owner and fence, and the release rides in the call's final transaction. Why this and not the alternatives:

- SQS FIFO message groups serialise per object too, but are asynchronous: a stub call must return the method's
  result, and a reply channel per call would cost more requests and latency than a lease (and FIFO queues take
  no per-message delay, which alarms need).
- Reserved concurrency 1 on the host function serialises every object at once, not each object.
- Step Functions or a lock service add a service and cost per call for what one conditional write gives.
- The fence is what makes the lease safe under Lambda: an invocation that outlives its lease (paused, slow)
  cannot write after another took the object over; its call fails as retryable with nothing stored.

The price is two requests per call (acquire; release, which carries the writes) and polling while an object is
busy: fine for objects called a few times a second (a user's alerts, a symbol's subscribers), not for one hot
object taking hundreds of calls a second, which Cloudflare would also call overloaded (soft limit 1,000/s).
Where AWS cannot do what Cloudflare does the binding says so: keys up to 1,023 bytes (DynamoDB's sort key;
Cloudflare 2 KiB), a ``transaction()`` must fit one DynamoDB transaction (99 writes, 4 MB), RPC payloads up to
Lambda's 6 MB, and values only of the types the codec round-trips (codec.py).
"""

from ttai.bindings.durable.alarms import AlarmInfo
from ttai.bindings.durable.context import DurableObject, DurableObjectState, WebSocketHub
from ttai.bindings.durable.errors import (
    AttachmentTooLarge,
    DurableBindingError,
    DurableObjectError,
    InvalidAlarm,
    InvalidId,
    InvalidKey,
    InvalidListOptions,
    InvalidNamespace,
    InvalidTransaction,
    InvalidWebSocket,
    KeyTooLong,
    MessageTooLarge,
    TooManyKeys,
    TransactionTooLarge,
    UnsupportedClose,
    UnsupportedValue,
    ValueTooLarge,
    WebSocketsUnavailable,
)
from ttai.bindings.durable.ids import DurableObjectId
from ttai.bindings.durable.namespace import (
    DurableObjectNamespace,
    DurableObjectStub,
    LambdaEvents,
    LambdaTransport,
    Transport,
)

__all__ = [
    "AlarmInfo",
    "AttachmentTooLarge",
    "DurableBindingError",
    "DurableObject",
    "DurableObjectError",
    "DurableObjectId",
    "DurableObjectNamespace",
    "DurableObjectState",
    "DurableObjectStub",
    "InvalidAlarm",
    "InvalidId",
    "InvalidKey",
    "InvalidListOptions",
    "InvalidNamespace",
    "InvalidTransaction",
    "InvalidWebSocket",
    "KeyTooLong",
    "LambdaEvents",
    "LambdaTransport",
    "MessageTooLarge",
    "TooManyKeys",
    "TransactionTooLarge",
    "Transport",
    "UnsupportedClose",
    "UnsupportedValue",
    "ValueTooLarge",
    "WebSocketHub",
    "WebSocketsUnavailable",
]

"""What a Durable Object class sees: the ``DurableObject`` base class and its ``ctx`` (DurableObjectState).

An object is built afresh for every call (``cls(ctx, env)``), deployed and locally alike: on AWS each call is a
Lambda invocation that may land in any container, so, as an object waking from hibernation on Cloudflare,
fields set in one call are gone in the next. Keep state in ``ctx.storage``. (Module and class attributes do
outlive a call in a warm container, locally and deployed, but are never shared between containers: they are
not object state.)

The hibernation WebSocket API (``accept_websocket``, ``get_websockets``, ``get_tags``, and ``release_websocket``,
which Cloudflare lacks) is delegated to a :class:`WebSocketHub` the host makes per call (websocket.py); the handlers
a class may define for it are ``web_socket_message(ws, message)`` and ``web_socket_close(ws, code, reason,
was_clean)``, which the host dispatches like ``alarm(info)`` and never exposes as RPC methods (``web_socket_error``
is reserved too, though API Gateway never reports an error that is not a close).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ttai.bindings.durable.errors import WebSocketsUnavailable
from ttai.bindings.durable.ids import DurableObjectId

if TYPE_CHECKING:
    from ttai.bindings.durable.storage import DurableObjectStorage

T = TypeVar("T")
# Called by the platform, never by a stub: alarms and the hibernation WebSocket events.
HANDLERS = frozenset({"alarm", "web_socket_message", "web_socket_close", "web_socket_error"})


class WebSocketHub(Protocol):
    """The gateway side of the hibernation WebSocket API for one object and one call (websocket.ObjectSockets)."""

    def accept_websocket(self, ws: Any, tags: Iterable[str] = ()) -> None: ...

    def get_websockets(self, tag: str | None = None) -> list[Any]: ...

    def get_tags(self, ws: Any) -> list[str]: ...

    def release_websocket(self, ws: Any) -> bool: ...

    def handle(self, connection_id: str, *, tags: list[str] | None = ..., attachment: Any = ...) -> Any:
        """This object's handle on a connection (an RPC argument, or the socket an event is about)."""

    def pending(self) -> bool:
        """Whether the call queued messages, which wait for its writes."""

    def flush(self) -> int:
        """Send the queued messages (after the call's writes are stored)."""


class DurableObjectState:
    """``ctx``: the object's id, its storage, and the hibernation WebSocket API when the host has a gateway."""

    def __init__(
        self, id: DurableObjectId, storage: DurableObjectStorage, websockets: WebSocketHub | None = None
    ) -> None:
        self.id = id
        self.storage = storage
        self._websockets = websockets

    def block_concurrency_while(self, callback: Callable[[], T]) -> T:
        """Run ``callback`` with no other call delivered meanwhile: already true of every call here (the lease)."""
        return callback()

    def _hub(self) -> WebSocketHub:
        if self._websockets is None:
            raise WebSocketsUnavailable(
                "this Durable Object host has no WebSocket gateway: hibernation WebSockets need the API Gateway "
                "WebSocket wiring (locally, the local WebSocket gateway)"
            )
        return self._websockets

    def accept_websocket(self, ws: Any, tags: Iterable[str] = ()) -> None:
        self._hub().accept_websocket(ws, tags)

    def get_websockets(self, tag: str | None = None) -> list[Any]:
        return self._hub().get_websockets(tag)

    def get_tags(self, ws: Any) -> list[str]:
        return self._hub().get_tags(ws)

    def release_websocket(self, ws: Any) -> bool:
        """Stop holding ``ws`` without closing it (not Cloudflare's: a connection here may be held by several
        objects, and unsubscribing lets go of one); True if this object held it."""
        return self._hub().release_websocket(ws)


class DurableObject:
    """Base of Durable Object classes. Public methods are RPC methods (``stub.add(5)`` runs ``add(5)``);
    ``alarm(info)`` runs when the object's alarm fires."""

    def __init__(self, ctx: DurableObjectState, env: Any) -> None:
        self.ctx = ctx
        self.env = env

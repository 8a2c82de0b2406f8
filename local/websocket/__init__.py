"""A local stand-in for an API Gateway WebSocket API (routes, REQUEST authorizer, @connections), for tests and
``make dev``; see ``local.websocket.gateway``."""

from local.websocket.gateway import (
    IDLE_TIMEOUT_SECONDS,
    MAX_CONNECTION_AGE_SECONDS,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    Integration,
    WebSocketGateway,
)

__all__ = [
    "IDLE_TIMEOUT_SECONDS",
    "MAX_CONNECTION_AGE_SECONDS",
    "MAX_FRAME_BYTES",
    "MAX_MESSAGE_BYTES",
    "Integration",
    "WebSocketGateway",
]

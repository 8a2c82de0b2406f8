"""DynamoDB applies each request atomically; moto server does not. It answers on many threads with no lock around
its DynamoDB backend, so two conditional writes to one item can both pass their condition (a race that lets two
callers take one Durable Object lease at once). Serialising moto's DynamoDB requests restores the guarantee
locally; moto holds the GIL while it works anyway, so it costs little."""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.Lock()


def make_dynamodb_requests_atomic() -> None:
    """Patch moto (in this process, where ThreadedMotoServer runs) to handle one DynamoDB request at a time."""
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415 - moto is imported only where it runs

    original = DynamoHandler.call_action
    if getattr(original, "ttai_atomic", False):
        return

    @functools.wraps(original)
    def atomic(self: Any) -> Any:
        with _LOCK:
            return original(self)

    atomic.ttai_atomic = True  # type: ignore[attr-defined]
    setattr(DynamoHandler, "call_action", atomic)  # noqa: B010 - replacing a method mypy sees as read-only

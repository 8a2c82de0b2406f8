"""The host's event and response shapes, shared by the stub (which sends calls) and the host (which runs them).

A call is ``{"kind": "call", "namespace", "id", "name", "method", "args", "kwargs"}``; arguments travel in the
codec's tagged JSON. The host answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"name",
"message", "remote", "retryable", "overloaded"}}``. Both transports carry these as JSON (locally the same
round trip is made in-process), and both refuse a payload over Lambda's 6 MB synchronous limit (Cloudflare's
RPC takes 32 MiB).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ttai.bindings.durable import codec
from ttai.bindings.durable.errors import DurableObjectError, ValueTooLarge

PAYLOAD_MAX_BYTES = 6 * 1024 * 1024


def call_event(
    namespace: str, hex_id: str, name: str | None, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "kind": "call",
        "namespace": namespace,
        "id": hex_id,
        "name": name,
        "method": method,
        # Arguments may carry hibernation WebSockets (as their connection id); results and storage never do.
        "args": codec.to_tree(list(args), websockets=True),
        "kwargs": codec.to_tree(dict(kwargs), websockets=True),
    }


def result(value: Any) -> dict[str, Any]:
    return {"ok": True, "result": codec.to_tree(value)}


def error(
    name: str, message: str, *, remote: bool = False, retryable: bool = False, overloaded: bool = False
) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {
            "name": name,
            "message": message,
            "remote": remote,
            "retryable": retryable,
            "overloaded": overloaded,
        },
    }


def to_json(payload: Mapping[str, Any], what: str) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(data) > PAYLOAD_MAX_BYTES:
        raise ValueTooLarge(
            f"the {what} is {len(data)} bytes; a synchronous Lambda invoke carries at most {PAYLOAD_MAX_BYTES} "
            "bytes (Cloudflare's RPC takes 32 MiB)"
        )
    return data


def unwrap(response: Mapping[str, Any]) -> Any:
    """The call's result, or the DurableObjectError its envelope describes."""
    if response.get("ok") is True:
        return codec.from_tree(response.get("result"))
    err = response.get("error") or {}
    raise DurableObjectError(
        str(err.get("message", "the Durable Object call failed")),
        name=str(err.get("name", "Error")),
        remote=bool(err.get("remote")),
        retryable=bool(err.get("retryable")),
        overloaded=bool(err.get("overloaded")),
    )

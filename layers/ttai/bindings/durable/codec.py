"""Values as they are stored and sent: the part of Cloudflare's structured clone that survives JSON, tagged.

Round-trips exactly: None, bool, int, float (NaN, infinities and -0.0 included), str, bytes, list, dict with str
keys, and aware datetimes (they come back with a fixed UTC offset, the same instant). Everything else is refused
with UnsupportedValue rather than read back as something else: tuples (they would come back as lists), sets,
bytearray, naive datetimes, subclasses of the types above (an IntEnum would come back an int), dicts with non-str
keys, strings that are not valid Unicode, and cycles.

The form is JSON in which a dict with one ``$``-key is a tag: ``{"$b": base64}`` bytes, ``{"$f": "NaN"}`` a
non-finite float, ``{"$d": iso}`` a datetime, and ``{"$o": {...}}`` a user dict whose keys start with ``$``
(escaped, so no user data is ever read as a tag).

A hibernation WebSocket crosses an RPC call (never storage) as ``{"$ws": connection id}``: the receiving object gets
a handle of its own on the same connection (``to_tree(..., websockets=True)`` / ``from_tree(..., websocket=)``).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ttai.bindings.durable.errors import UnsupportedValue

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_SCALARS = (str, int, bool)
_HINTS: dict[type, str] = {
    tuple: " (use a list)",
    set: " (use a list)",
    frozenset: " (use a list)",
    bytearray: " (use bytes)",
}


def to_tree(value: Any, *, websockets: bool = False) -> Any:
    """``value`` as a JSON-ready tree; raises UnsupportedValue for what could not be read back unchanged.

    ``websockets``: hibernation WebSockets may be part of it (RPC arguments); storage never takes them."""
    try:
        return _encode(value, set(), websockets)
    except RecursionError as exc:
        raise UnsupportedValue("the value is nested too deeply to store") from exc


def from_tree(tree: Any, *, websocket: Callable[[str], Any] | None = None) -> Any:
    """The value ``to_tree`` encoded; ``websocket`` makes the receiver's handle of a connection a ``$ws`` names."""
    if isinstance(tree, list):
        return [from_tree(item, websocket=websocket) for item in tree]
    if isinstance(tree, dict):
        if len(tree) == 1:
            ((tag, body),) = tree.items()
            if tag == _WEBSOCKET_TAG:
                if websocket is None or not isinstance(body, str):
                    raise UnsupportedValue("a WebSocket can only be passed to an object whose host has a gateway")
                return websocket(body)
            if tag == "$o":  # a user dict whose keys start with '$', escaped
                return {key: from_tree(item, websocket=websocket) for key, item in body.items()}
            decoder = _DECODERS.get(tag)
            if decoder is not None:
                return decoder(body)
        return {key: from_tree(item, websocket=websocket) for key, item in tree.items()}
    return tree


def dumps(value: Any) -> str:
    """The JSON text of ``value`` (compact, UTF-8 ready)."""
    return json.dumps(to_tree(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps_bytes(value: Any) -> bytes:
    try:
        return dumps(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsupportedValue(f"a string in the value is not valid Unicode: {exc.reason}") from exc


def loads(text: str | bytes) -> Any:
    return from_tree(json.loads(text))


def _encode(value: Any, path: set[int], websockets: bool) -> Any:
    kind = type(value)
    if value is None or kind in _SCALARS:
        return value
    if kind is list or kind is dict:
        marker = id(value)
        if marker in path:
            raise UnsupportedValue("the value contains itself (cycles cannot be stored)")
        path.add(marker)
        try:
            if kind is list:
                return [_encode(item, path, websockets) for item in value]
            return _encode_dict(value, path, websockets)
        finally:
            path.discard(marker)
    encoder = _ENCODERS.get(kind)
    if encoder is None and getattr(kind, "_crosses_rpc_as_connection", False):
        if not websockets:
            raise UnsupportedValue("a WebSocket cannot be stored: keep what you need in its attachment")
        return {_WEBSOCKET_TAG: value.connection_id}
    if encoder is None:
        raise UnsupportedValue(
            f"a {kind.__name__} cannot be stored and read back unchanged{_HINTS.get(kind, '')}; values are None, "
            "bool, int, float, str, bytes, aware datetime, list and dict with str keys"
        )
    return encoder(value)


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$f": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}


def _bytes(value: bytes) -> Any:
    return {"$b": base64.b64encode(value).decode("ascii")}


def _datetime(value: datetime) -> Any:
    if value.tzinfo is None or value.utcoffset() is None:
        raise UnsupportedValue("a datetime must be timezone-aware to be stored (naive ones have no instant)")
    return {"$d": value.isoformat()}


def _encode_dict(value: dict[Any, Any], path: set[int], websockets: bool) -> Any:
    encoded = {}
    escaped = False
    for key, item in value.items():
        if type(key) is not str:
            raise UnsupportedValue(f"dict keys must be str to be stored, not {type(key).__name__}")
        escaped = escaped or key.startswith("$")
        encoded[key] = _encode(item, path, websockets)
    return {"$o": encoded} if escaped else encoded


_WEBSOCKET_TAG = "$ws"
_ENCODERS: dict[type, Callable[[Any], Any]] = {float: _float, bytes: _bytes, datetime: _datetime}
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$b": base64.b64decode,
    "$f": _NON_FINITE.__getitem__,
    "$d": datetime.fromisoformat,
}

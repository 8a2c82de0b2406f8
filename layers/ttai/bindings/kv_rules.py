"""KV's rules, checked before any call: limits, error kinds, value and metadata encoding, expirations, list cursors
and the read options a Worker passes. Pure functions, so the unit tests run them without AWS."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ttai.bindings import common
from ttai.bindings.common import KeyRules, ListCursors
from ttai.bindings.kv_cache import check_cache_ttl
from ttai.errors import BindingError

KEY_MAX_BYTES = 512
METADATA_MAX_BYTES = 1024
VALUE_MAX_BYTES = 25 * 1024 * 1024
MIN_EXPIRATION_TTL = 60
LIST_LIMIT_MAX = 1000
BULK_GET_MAX = 100
# DynamoDB's item limit is 400 KB counting attribute names and every value; keep room for key and metadata.
INLINE_VALUE_MAX_BYTES = 400 * 1024 - 8 * 1024
BATCH_WRITE_MAX = 25
_UNPROCESSED_RETRIES = 6
DEPENDENCY = "the key-value store"  # what a 503 calls it when DynamoDB or S3 is throttling or away

ValueType = Literal["text", "json", "bytes", "arrayBuffer"]
READ_OPTIONS = ("type", "cache_ttl")
PUT_OPTIONS = ("expiration", "expiration_ttl", "metadata")
LIST_OPTIONS = ("prefix", "limit", "cursor")
_TYPE_ALIASES = {"arrayBuffer": "bytes"}  # Cloudflare's name for what Python reads as bytes
Value = str | bytes | bytearray | memoryview


class KVError(BindingError):
    """Base of the KV binding's errors."""


class InvalidKey(KVError, common.InvalidKey):
    """Empty, '.', '..', not a string, or not valid Unicode."""


class KeyTooLong(InvalidKey, common.KeyTooLong):
    """A key (or list prefix) over 512 UTF-8 bytes."""


class ValueTooLarge(KVError, common.ValueTooLarge):
    """A value over 25 MiB, or too big for where it was sent."""


class MetadataTooLarge(KVError, common.MetadataTooLarge):
    """Metadata whose JSON form is over 1024 bytes."""


class InvalidMetadata(KVError, common.InvalidMetadata):
    """Metadata that cannot be serialized to JSON."""


class InvalidExpiration(KVError):
    """An expiration in the past or under 60 s away, a TTL under 60 s, or both options at once."""


class InvalidOption(KVError, common.InvalidOption):
    """An option KV's Worker API does not have (named in the message), one given twice, or options not a mapping."""


class InvalidCacheTtl(KVError):
    """A ``cache_ttl`` under 60 seconds (Cloudflare's minimum) or not a finite number."""


class InvalidListOptions(KVError, common.InvalidListOptions):
    """A list limit outside 1..1000 or a cursor this namespace did not issue for this prefix."""


class TooManyKeys(KVError, common.TooManyKeys):
    """A bulk get of more than 100 keys."""


class UnsupportedValueType(KVError, common.UnsupportedValue):
    """A value or read type the binding does not support (for example streams)."""


class OverflowUnavailable(KVError):
    """A value needs the S3 overflow bucket, and this binding was given none."""


class CorruptValue(KVError):
    """A value read as JSON that is not JSON."""


KEY_RULES = KeyRules(KEY_MAX_BYTES, InvalidKey, KeyTooLong, reserved=("", ".", ".."))
LIST_CURSORS = ListCursors("namespace", position="a", options={"p": "prefix"}, error=InvalidListOptions)


_check_key = KEY_RULES.check_key


def _read_options(
    call: str,
    type_: str | Mapping[str, Any] | None,
    options: Mapping[str, Any] | None,
    cache_ttl: float | None,
    extra: Mapping[str, Any],
) -> tuple[str, float | None]:
    """A read's type and cache_ttl from ``get(key, type?, options?)`` in any of its Worker forms."""
    given = type_ if isinstance(type_, Mapping) else {"type": type_}
    chosen = common.worker_options(
        call, READ_OPTIONS, given, options, {"cache_ttl": cache_ttl}, extra, error=InvalidOption
    )
    ttl = check_cache_ttl(chosen["cache_ttl"], InvalidCacheTtl) if "cache_ttl" in chosen else None
    kind = chosen.get("type", "text")
    return _TYPE_ALIASES.get(kind, kind) if isinstance(kind, str) else kind, ttl


def _check_bulk_keys(keys: object) -> list[str]:
    """The keys of a bulk get, each checked, without repeats (BatchGetItem refuses a key twice)."""
    if isinstance(keys, str | bytes | bytearray) or not isinstance(keys, Sequence):
        raise InvalidKey("get() takes a key or a list of keys")
    if len(keys) > BULK_GET_MAX:
        raise TooManyKeys(f"a bulk get takes at most {BULK_GET_MAX} keys, got {len(keys)}")
    for key in keys:
        _check_key(key)
    return list(dict.fromkeys(keys))


def _check_read_type(type_: str, *, bulk: bool) -> None:
    allowed = ("text", "json") if bulk else ("text", "json", "bytes")
    if type_ not in allowed:
        where = "a bulk get" if bulk else "get"
        raise UnsupportedValueType(f"{where} reads as {' or '.join(allowed)}, not {type_!r}")


def _encode_value(value: object) -> bytes:
    if isinstance(value, str):
        try:
            body = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UnsupportedValueType(f"a text value must be valid Unicode: {exc.reason}") from exc
    elif isinstance(value, bytes | bytearray | memoryview):
        body = bytes(value)
    else:
        raise UnsupportedValueType(
            f"a value must be str or bytes, got {type(value).__name__} (serialize JSON with json.dumps)"
        )
    if len(body) > VALUE_MAX_BYTES:
        raise ValueTooLarge(f"value is {len(body)} bytes; values are at most {VALUE_MAX_BYTES} bytes (25 MiB)")
    return body


def _encode_metadata(metadata: Any) -> str | None:
    if metadata is None:
        return None
    try:
        encoded = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidMetadata(f"metadata must be JSON-serializable: {exc}") from exc
    size = len(encoded.encode("utf-8"))
    if size > METADATA_MAX_BYTES:
        raise MetadataTooLarge(f"metadata is {size} bytes as JSON; the limit is {METADATA_MAX_BYTES} bytes")
    return encoded


def _expiry(expiration: float | None, expiration_ttl: float | None, now: float) -> int | None:
    if expiration is not None and expiration_ttl is not None:
        raise InvalidExpiration("pass either expiration or expiration_ttl, not both")
    if expiration_ttl is not None:
        ttl = _seconds(expiration_ttl, "expiration_ttl")
        if ttl < MIN_EXPIRATION_TTL:
            raise InvalidExpiration(
                f"expiration_ttl of {ttl} s is invalid: the minimum is {MIN_EXPIRATION_TTL} seconds"
            )
        return int(now) + ttl
    if expiration is not None:
        at = _seconds(expiration, "expiration")
        if at < int(now) + MIN_EXPIRATION_TTL:  # whole seconds, as expiration_ttl stores them
            raise InvalidExpiration(
                f"expiration {at} is invalid: it must be at least {MIN_EXPIRATION_TTL} seconds in the future"
            )
        return at
    return None


def _seconds(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidExpiration(f"{name} must be a finite number of seconds, got {value!r}")
    return int(value)


def _encode_cursor(after: str, prefix: str | None) -> str:
    return LIST_CURSORS.encode(after, p=prefix)


def _decode_cursor(cursor: str, prefix: str | None) -> str:
    after = LIST_CURSORS.decode(cursor, p=prefix)
    if prefix is not None and not after.startswith(prefix):
        raise InvalidListOptions("list cursor is not one this namespace issued")
    return after

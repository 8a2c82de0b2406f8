"""Cloudflare Workers KV on DynamoDB: the same methods, limits, errors and list order, synchronous.

One item per key (partition key = the key, so reads and writes spread over partitions). Listing goes through a
GSI whose partition key is one of a few fixed shards and whose sort key is the key: each list page is one Query
per shard, merged in UTF-8 byte order (DynamoDB compares strings by their UTF-8 bytes); nothing ever Scans.
Values too large for an item live in S3 and the item points at them. DynamoDB deletes expired items late (TTL
sweeps take hours), so every read checks the expiry itself: an expired key is invisible at its expiry second.
"""

from __future__ import annotations

import builtins
import json
import math
import time
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Literal, overload
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from ttai.bindings import common
from ttai.bindings.common import KeyRules, ListCursors, error_code, reports_unavailable, retry_unprocessed, successor
from ttai.errors import BindingError
from ttai.layout import KVLayout, storage_layout

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

ValueType = Literal["text", "json", "bytes"]
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


@dataclass(frozen=True, slots=True)
class KVKey:
    name: str
    expiration: int | None = None
    metadata: Any = None


@dataclass(frozen=True, slots=True)
class KVListResult:
    keys: builtins.list[KVKey]
    list_complete: bool
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class KVValueWithMetadata:
    value: Any
    metadata: Any


@dataclass(frozen=True, slots=True)
class _Stored:
    """A live item, decoded from DynamoDB's attribute-value shape."""

    key: str
    value: bytes | None
    overflow: str | None
    metadata: Any
    expiration: int | None


class KVNamespace:
    """A KV namespace stored in one DynamoDB table (and, for large values, one S3 bucket prefix)."""

    def __init__(
        self,
        table: str,
        *,
        overflow_bucket: str | None = None,
        dynamodb: Any = None,
        s3: Any = None,
        layout: KVLayout | None = None,
    ) -> None:
        if not table:
            raise KVError("KVNamespace needs a DynamoDB table name")
        self.table = table
        self.overflow_bucket = overflow_bucket
        self._layout = layout or storage_layout().kv
        if dynamodb is None or (overflow_bucket and s3 is None):
            from ttai import aws  # noqa: PLC0415 - keep boto3 out of the import path when clients are injected

            dynamodb = dynamodb or aws.client("dynamodb")
            s3 = s3 or (aws.client("s3") if overflow_bucket else None)
        self._ddb = dynamodb
        self._s3 = s3

    # ------------------------------------------------------------------ reads

    @overload
    def get(self, key: str, type: ValueType = "text") -> Any: ...
    @overload
    def get(self, key: builtins.list[str] | tuple[str, ...], type: ValueType = "text") -> dict[str, Any]: ...

    @reports_unavailable(DEPENDENCY)
    def get(self, key: str | Sequence[str], type: ValueType = "text") -> Any:
        """The value of ``key`` decoded as ``type``, or None. A list of keys is a bulk get (at most 100)."""
        if not isinstance(key, str):
            found = self._bulk(key, type)
            return {name: (self._decode(name, s, type) if s else None) for name, s in found.items()}
        stored = self._get_one(key, type)
        return self._decode(key, stored, type) if stored else None

    @overload
    def get_with_metadata(self, key: str, type: ValueType = "text") -> KVValueWithMetadata: ...
    @overload
    def get_with_metadata(
        self, key: builtins.list[str] | tuple[str, ...], type: ValueType = "text"
    ) -> dict[str, KVValueWithMetadata | None]: ...

    @reports_unavailable(DEPENDENCY)
    def get_with_metadata(
        self,
        key: str | Sequence[str],
        type: ValueType = "text",
    ) -> KVValueWithMetadata | dict[str, KVValueWithMetadata | None]:
        """Value and metadata; a missing key gives value None and metadata None (a bulk get maps it to None)."""
        if not isinstance(key, str):
            found = self._bulk(key, type)
            return {
                name: (KVValueWithMetadata(self._decode(name, s, type), s.metadata) if s else None)
                for name, s in found.items()
            }
        stored = self._get_one(key, type)
        if stored is None:
            return KVValueWithMetadata(None, None)
        return KVValueWithMetadata(self._decode(key, stored, type), stored.metadata)

    def _get_one(self, key: str, type_: str) -> _Stored | None:
        _check_read_type(type_, bulk=False)
        _check_key(key)
        response = self._ddb.get_item(TableName=self.table, Key=self._item_key(key))
        return self._live(response.get("Item"), time.time())

    def _bulk(self, keys: Sequence[str], type_: str) -> dict[str, _Stored | None]:
        _check_read_type(type_, bulk=True)
        if isinstance(keys, bytes | bytearray) or not isinstance(keys, Sequence):
            raise InvalidKey("get() takes a key or a list of keys")
        if len(keys) > BULK_GET_MAX:
            raise TooManyKeys(f"a bulk get takes at most {BULK_GET_MAX} keys, got {len(keys)}")
        for key in keys:
            _check_key(key)
        unique = list(dict.fromkeys(keys))  # BatchGetItem rejects duplicate keys
        found: dict[str, _Stored | None] = dict.fromkeys(unique)
        if not unique:
            return found
        now = time.time()
        request: dict[str, Any] = {self.table: {"Keys": [self._item_key(k) for k in unique]}}
        for response in self._batch(self._ddb.batch_get_item, request, "UnprocessedKeys"):
            for item in response.get("Responses", {}).get(self.table, []):
                stored = self._live(item, now)
                if stored is not None:
                    found[stored.key] = stored
        return found

    def _decode(self, key: str, stored: _Stored, type_: str) -> Any:
        raw = stored.value if stored.value is not None else self._read_overflow(key, stored)
        if type_ == "bytes":
            return raw
        if type_ == "json":
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise CorruptValue(f"the value of {key!r} is not valid JSON: {exc}") from exc
        # Cloudflare decodes text like TextDecoder: invalid sequences become U+FFFD rather than failing.
        return raw.decode("utf-8", errors="replace")

    def _read_overflow(self, key: str, stored: _Stored) -> bytes:
        if self._s3 is None or not self.overflow_bucket:
            raise OverflowUnavailable(f"the value of {key!r} is stored in S3 but this binding has no overflow bucket")
        assert stored.overflow is not None
        try:
            body: bytes = self._s3.get_object(Bucket=self.overflow_bucket, Key=stored.overflow)["Body"].read()
        except ClientError as exc:
            if error_code(exc) not in {"NoSuchKey", "404"}:
                raise
            # A concurrent put replaced the value after our read and removed the old object: read again once.
            fresh = self._get_one(key, "bytes")
            if fresh is None:
                return b""
            if fresh.value is not None:
                return fresh.value
            if fresh.overflow == stored.overflow:
                raise KVError(f"the S3 object behind {key!r} is missing") from exc
            return self._read_overflow(key, fresh)
        return body

    # ----------------------------------------------------------------- writes

    @reports_unavailable(DEPENDENCY)
    def put(
        self,
        key: str,
        value: Value,
        *,
        expiration: float | None = None,
        expiration_ttl: float | None = None,
        metadata: Any = None,
    ) -> None:
        """Store ``value`` under ``key``; optional absolute ``expiration`` or relative ``expiration_ttl`` (s)."""
        _check_key(key)
        body = _encode_value(value)
        now = time.time()
        expires = _expiry(expiration, expiration_ttl, now)
        item = self._item(key, body, expires, _encode_metadata(metadata))
        new_object = None
        if len(body) > INLINE_VALUE_MAX_BYTES:
            new_object = self._write_overflow(key, body, expires, now)
            del item["v"]
            item["o"] = {"S": new_object}
        try:
            response = self._ddb.put_item(
                TableName=self.table,
                Item=item,
                ReturnValues="ALL_OLD" if self.overflow_bucket else "NONE",
            )
        except Exception:
            if new_object:
                self._delete_object(new_object)  # the item never pointed at it
            raise
        self._forget_old_object(response.get("Attributes"), keep=new_object)

    @reports_unavailable(DEPENDENCY)
    def put_many(
        self,
        entries: Mapping[str, Value],
        *,
        expiration: float | None = None,
        expiration_ttl: float | None = None,
        metadata: Any = None,
    ) -> None:
        """Extension for ingest: many small puts in BatchWriteItem calls of 25 (Workers has no bulk put).

        Every value must fit in an item: a value that needs S3 raises before anything is written. BatchWriteItem
        cannot return the items it replaces, so if a key being overwritten held a value in S3, that object is
        left to the bucket's lifecycle (it was tagged by its expiry); use put() for keys that may hold large
        values without expiry.
        """
        now = time.time()
        expires = _expiry(expiration, expiration_ttl, now)
        encoded_metadata = _encode_metadata(metadata)
        items = []
        for key, value in entries.items():
            _check_key(key)
            body = _encode_value(value)
            if len(body) > INLINE_VALUE_MAX_BYTES:
                raise ValueTooLarge(
                    f"put_many takes values up to {INLINE_VALUE_MAX_BYTES} bytes; use put() for {key!r}"
                )
            items.append(self._item(key, body, expires, encoded_metadata))
        for start in range(0, len(items), BATCH_WRITE_MAX):
            chunk = items[start : start + BATCH_WRITE_MAX]
            request: dict[str, Any] = {self.table: [{"PutRequest": {"Item": item}} for item in chunk]}
            self._batch_write(request)

    @reports_unavailable(DEPENDENCY)
    def put_if_absent(self, key: str, value: Value, *, expiration_ttl: float) -> bool:
        """Extension for coalescing work across containers (Workers KV has no conditional write; a Worker would use
        a Durable Object): store ``value`` under ``key`` only if no live value is there, and say whether this call
        stored it. One conditional PutItem; an item past its expiry counts as absent. The value must fit in an item
        and the key must expire (``expiration_ttl``, at least 60 s): a claim nobody releases must not last."""
        _check_key(key)
        body = _encode_value(value)
        if len(body) > INLINE_VALUE_MAX_BYTES:
            raise ValueTooLarge(f"put_if_absent takes values up to {INLINE_VALUE_MAX_BYTES} bytes")
        now = time.time()
        expires = _expiry(None, expiration_ttl, now)
        lay = self._layout
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item=self._item(key, body, expires, None),
                ConditionExpression="attribute_not_exists(#key) OR #ttl <= :now",
                ExpressionAttributeNames={"#key": lay.key_attr, "#ttl": lay.ttl_attr},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @reports_unavailable(DEPENDENCY)
    def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing key is not an error."""
        _check_key(key)
        response = self._ddb.delete_item(
            TableName=self.table,
            Key=self._item_key(key),
            ReturnValues="ALL_OLD" if self.overflow_bucket else "NONE",
        )
        self._forget_old_object(response.get("Attributes"), keep=None)

    def _batch_write(self, request: dict[str, Any]) -> None:
        for _ in self._batch(self._ddb.batch_write_item, request, "UnprocessedItems"):
            pass

    def _batch(self, operation: Any, request: dict[str, Any], leftover: str) -> Any:
        """The responses of a batch call, retrying what DynamoDB left unprocessed; Throttled if it still does."""
        return retry_unprocessed(
            lambda pending: operation(RequestItems=pending),
            request,
            leftover=leftover,
            dependency=DEPENDENCY,
            attempts=_UNPROCESSED_RETRIES + 1,
        )

    def _write_overflow(self, key: str, body: bytes, expires: int | None, now: float) -> str:
        if self._s3 is None or not self.overflow_bucket:
            raise OverflowUnavailable(
                f"a value of {len(body)} bytes does not fit in a DynamoDB item and this binding has no "
                f"overflow bucket (values up to {INLINE_VALUE_MAX_BYTES} bytes fit)"
            )
        # A fresh object per write: concurrent puts never overwrite an object another item points at.
        name = f"{self._layout.overflow_prefix}{sha256(key.encode()).hexdigest()}/{uuid.uuid4().hex}"
        extra: dict[str, Any] = {}
        if expires is not None:
            # S3 lifecycle cannot expire at a timestamp, so tag the smallest day bucket that outlives the key.
            days = math.ceil((expires - now) / 86400)
            bucket = next((d for d in self._layout.overflow_expiry_days if d >= days), None)
            if bucket is not None:
                extra["Tagging"] = urlencode({self._layout.overflow_expiry_tag: str(bucket)})
        self._s3.put_object(Bucket=self.overflow_bucket, Key=name, Body=body, **extra)
        return name

    def _forget_old_object(self, old: dict[str, Any] | None, *, keep: str | None) -> None:
        previous = (old or {}).get("o", {}).get("S")
        if previous and previous != keep:
            self._delete_object(previous)

    def _delete_object(self, name: str) -> None:
        if self._s3 is not None and self.overflow_bucket:
            self._s3.delete_object(Bucket=self.overflow_bucket, Key=name)

    # ------------------------------------------------------------------- list

    @reports_unavailable(DEPENDENCY)
    def list(self, prefix: str | None = None, limit: int = LIST_LIMIT_MAX, cursor: str | None = None) -> KVListResult:
        """Keys in UTF-8 byte order, ``limit`` (1..1000) at most per page, resumed with ``cursor``.

        As on Cloudflare, a page may hold fewer keys than ``limit`` (expired keys are skipped) while
        ``list_complete`` is False; keep paging until it is True.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidListOptions(f"list limit must be an integer from 1 to {LIST_LIMIT_MAX}, got {limit!r}")
        if prefix is not None:
            KEY_RULES.check_prefix(prefix, "list prefix")
            prefix = prefix or None
        after = _decode_cursor(cursor, prefix) if cursor else None
        now = time.time()
        seen: list[KVKey] = []
        bound: str | None = None  # every key <= bound has been seen, in every shard
        truncated = False
        for shard in range(self._layout.list_shards):
            items, last = self._query_shard(shard, prefix, after, limit, now)
            seen.extend(items)
            if last is not None:
                truncated = True
                bound = last if bound is None else min(bound, last)
        seen.sort(key=lambda k: k.name)
        eligible = [k for k in seen if bound is None or k.name <= bound]
        page = eligible[:limit]
        if not truncated and len(eligible) <= limit:
            return KVListResult(keys=page, list_complete=True)
        resume_after = page[-1].name if page else bound
        assert resume_after is not None
        return KVListResult(keys=page, list_complete=False, cursor=_encode_cursor(resume_after, prefix))

    def _query_shard(
        self, shard: int, prefix: str | None, after: str | None, limit: int, now: float
    ) -> tuple[builtins.list[KVKey], str | None]:
        lay = self._layout
        names = {"#s": lay.shard_attr, "#k": lay.key_attr, "#e": lay.ttl_attr, "#m": "m"}
        values: dict[str, Any] = {":s": {"N": str(shard)}, ":now": {"N": str(int(now))}}
        condition = "#s = :s"
        evaluate = limit
        upper = successor(prefix) if prefix is not None else None
        if after is not None and upper is not None:
            condition += " AND #k BETWEEN :a AND :hi"
            values[":a"] = {"S": after}
            values[":hi"] = {"S": upper}
            # BETWEEN includes the cursor's own key, which Limit counts: with limit 1 the shard holding it would
            # return only that key, and the page would repeat the same cursor forever. Evaluate one more.
            evaluate = limit + 1
        elif after is not None:
            condition += " AND #k > :a"
            values[":a"] = {"S": after}
        elif prefix is not None:
            condition += " AND begins_with(#k, :p)"
            values[":p"] = {"S": prefix}
        response = self._ddb.query(
            TableName=self.table,
            IndexName=lay.list_index,
            KeyConditionExpression=condition,
            # Expired-but-not-yet-swept items are filtered server side; Limit counts before the filter,
            # which is why a page can come back short with list_complete False.
            FilterExpression="attribute_not_exists(#e) OR #e > :now",
            ProjectionExpression="#k, #e, #m",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            Limit=evaluate,
        )
        keys = []
        for item in response.get("Items", []):
            name = item[lay.key_attr]["S"]
            if name == after or (prefix is not None and not name.startswith(prefix)):
                continue
            keys.append(
                KVKey(
                    name=name,
                    expiration=int(item[lay.ttl_attr]["N"]) if lay.ttl_attr in item else None,
                    metadata=json.loads(item["m"]["S"]) if "m" in item else None,
                )
            )
        last = response.get("LastEvaluatedKey")
        last_key: str | None = last[lay.key_attr]["S"] if last else None
        if last_key is not None and prefix is not None and not last_key.startswith(prefix):
            last_key = None  # stopped on the range's upper end (the prefix's successor): nothing of the prefix is left
        return keys, last_key

    # ---------------------------------------------------------------- helpers

    def _item_key(self, key: str) -> dict[str, Any]:
        return {self._layout.key_attr: {"S": key}}

    def _item(self, key: str, body: bytes, expires: int | None, metadata: str | None) -> dict[str, Any]:
        lay = self._layout
        shard = zlib.crc32(key.encode("utf-8")) % lay.list_shards
        item: dict[str, Any] = {
            lay.key_attr: {"S": key},
            lay.shard_attr: {"N": str(shard)},
            "v": {"B": body},
        }
        if expires is not None:
            item[lay.ttl_attr] = {"N": str(expires)}
        if metadata is not None:
            item["m"] = {"S": metadata}
        return item

    def _live(self, item: dict[str, Any] | None, now: float) -> _Stored | None:
        if not item:
            return None
        lay = self._layout
        expires = int(item[lay.ttl_attr]["N"]) if lay.ttl_attr in item else None
        if expires is not None and expires <= now:
            return None  # expired: DynamoDB has not swept it yet, but it no longer exists for readers
        return _Stored(
            key=item[lay.key_attr]["S"],
            value=item["v"]["B"] if "v" in item else None,
            overflow=item["o"]["S"] if "o" in item else None,
            metadata=json.loads(item["m"]["S"]) if "m" in item else None,
            expiration=expires,
        )


_check_key = KEY_RULES.check_key


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


def iter_all_keys(kv: KVNamespace, prefix: str | None = None) -> Iterable[KVKey]:
    """Every live key under ``prefix``, following cursors until the list is complete."""
    cursor = None
    while True:
        page = kv.list(prefix=prefix, cursor=cursor)
        yield from page.keys
        if page.list_complete:
            return
        cursor = page.cursor

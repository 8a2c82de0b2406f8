"""Cloudflare Workers KV on DynamoDB: the same methods, limits, errors and list order, synchronous.

One item per key (partition key = the key, so reads and writes spread over partitions). Listing goes through a
GSI whose partition key is one of a few fixed shards and whose sort key is the key: each list page is one Query
per shard, merged in UTF-8 byte order (DynamoDB compares strings by their UTF-8 bytes); nothing ever Scans.
Values too large for an item live in S3 and the item points at them. DynamoDB deletes expired items late (TTL
sweeps take hours), so every read checks the expiry itself: an expired key is invisible at its expiry second.

Options come as keywords or as the mapping Worker code passes, in camelCase or snake_case (``get(key,
{"type": "json", "cacheTtl": 300})``, ``put(key, value, {"expirationTtl": 60})``); an unknown one is refused by name.
Cloudflare's ``arrayBuffer`` reads as ``bytes``. ``cache_ttl`` reads through a per-container read cache
(``ttai.bindings.kv_cache``). The limits, errors and pure checks live in ``ttai.bindings.kv_rules``.
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
from typing import Any, overload
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from ttai.bindings import common
from ttai.bindings.common import error_code, reports_unavailable, retry_unprocessed, successor
from ttai.bindings.kv_cache import CONTAINER_READ_CACHE, KVReadCache
from ttai.bindings.kv_rules import (
    _UNPROCESSED_RETRIES,
    BATCH_WRITE_MAX,
    BULK_GET_MAX,
    DEPENDENCY,
    INLINE_VALUE_MAX_BYTES,
    KEY_MAX_BYTES,
    KEY_RULES,
    LIST_CURSORS,
    LIST_LIMIT_MAX,
    LIST_OPTIONS,
    METADATA_MAX_BYTES,
    MIN_EXPIRATION_TTL,
    PUT_OPTIONS,
    READ_OPTIONS,
    VALUE_MAX_BYTES,
    CorruptValue,
    InvalidCacheTtl,
    InvalidExpiration,
    InvalidKey,
    InvalidListOptions,
    InvalidMetadata,
    InvalidOption,
    KeyTooLong,
    KVError,
    MetadataTooLarge,
    OverflowUnavailable,
    TooManyKeys,
    UnsupportedValueType,
    Value,
    ValueTooLarge,
    ValueType,
    _check_bulk_keys,
    _check_key,
    _check_read_type,
    _decode_cursor,
    _encode_cursor,
    _encode_metadata,
    _encode_value,
    _expiry,
    _read_options,
)
from ttai.layout import KVLayout, storage_layout

__all__ = [  # the rules and errors re-exported from kv_rules, beside what this module defines
    "BATCH_WRITE_MAX",
    "BULK_GET_MAX",
    "DEPENDENCY",
    "INLINE_VALUE_MAX_BYTES",
    "KEY_MAX_BYTES",
    "KEY_RULES",
    "LIST_CURSORS",
    "LIST_LIMIT_MAX",
    "LIST_OPTIONS",
    "METADATA_MAX_BYTES",
    "MIN_EXPIRATION_TTL",
    "PUT_OPTIONS",
    "READ_OPTIONS",
    "VALUE_MAX_BYTES",
    "CorruptValue",
    "InvalidCacheTtl",
    "InvalidExpiration",
    "InvalidKey",
    "InvalidListOptions",
    "InvalidMetadata",
    "InvalidOption",
    "KVError",
    "KVKey",
    "KVListResult",
    "KVNamespace",
    "KVValueWithMetadata",
    "KeyTooLong",
    "MetadataTooLarge",
    "OverflowUnavailable",
    "TooManyKeys",
    "UnsupportedValueType",
    "Value",
    "ValueTooLarge",
    "ValueType",
    "iter_all_keys",
]


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
        read_cache: KVReadCache | None = None,
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
        # The container's cache unless given another (a test playing a second container passes its own).
        self.read_cache = read_cache if read_cache is not None else CONTAINER_READ_CACHE

    # ------------------------------------------------------------------ reads

    @overload
    def get(
        self,
        key: str,
        type: ValueType | Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        cache_ttl: float | None = None,
        **worker_options: Any,
    ) -> Any: ...
    @overload
    def get(
        self,
        key: builtins.list[str] | tuple[str, ...],
        type: ValueType | Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        cache_ttl: float | None = None,
        **worker_options: Any,
    ) -> dict[str, Any]: ...

    @reports_unavailable(DEPENDENCY)
    def get(
        self,
        key: str | Sequence[str],
        type: ValueType | Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        cache_ttl: float | None = None,
        **worker_options: Any,
    ) -> Any:
        """The value of ``key`` decoded as ``type`` ("text" unless given), or None. A list of keys is a bulk get (at
        most 100). ``cache_ttl`` (at least 60 s) lets this container answer from what it read in that time.

        As a Worker calls it: ``get(key, "json")``, ``get(key, {"type": "json", "cacheTtl": 300})``,
        ``get(key, "json", {"cacheTtl": 300})`` or with keywords (``cache_ttl=`` / ``cacheTtl=``).
        """
        type_, ttl = _read_options("get", type, options, cache_ttl, worker_options)
        if not isinstance(key, str):
            found = self._bulk(key, type_, ttl)
            return {name: (self._decode(name, s, type_) if s else None) for name, s in found.items()}
        stored = self._get_one(key, type_, ttl)
        return self._decode(key, stored, type_) if stored else None

    @overload
    def get_with_metadata(
        self,
        key: str,
        type: ValueType | Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        cache_ttl: float | None = None,
        **worker_options: Any,
    ) -> KVValueWithMetadata: ...
    @overload
    def get_with_metadata(
        self,
        key: builtins.list[str] | tuple[str, ...],
        type: ValueType | Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        cache_ttl: float | None = None,
        **worker_options: Any,
    ) -> dict[str, KVValueWithMetadata | None]: ...

    @reports_unavailable(DEPENDENCY)
    def get_with_metadata(
        self,
        key: str | Sequence[str],
        type: ValueType | Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        cache_ttl: float | None = None,
        **worker_options: Any,
    ) -> KVValueWithMetadata | dict[str, KVValueWithMetadata | None]:
        """Value and metadata; a missing key gives value None and metadata None (a bulk get maps it to None).
        Options as ``get``'s."""
        type_, ttl = _read_options("get_with_metadata", type, options, cache_ttl, worker_options)
        if not isinstance(key, str):
            found = self._bulk(key, type_, ttl)
            return {
                name: (KVValueWithMetadata(self._decode(name, s, type_), s.metadata) if s else None)
                for name, s in found.items()
            }
        stored = self._get_one(key, type_, ttl)
        if stored is None:
            return KVValueWithMetadata(None, None)
        return KVValueWithMetadata(self._decode(key, stored, type_), stored.metadata)

    def _get_one(self, key: str, type_: str, cache_ttl: float | None = None) -> _Stored | None:
        _check_read_type(type_, bulk=False)
        _check_key(key)
        now = time.time()
        if cache_ttl is not None:
            cached, stored = self.read_cache.lookup(self.table, key, now)
            if cached:
                return stored  # type: ignore[no-any-return]
        response = self._ddb.get_item(TableName=self.table, Key=self._item_key(key))
        found = self._live(response.get("Item"), now)
        if cache_ttl is not None:
            self._keep(key, found, now, cache_ttl)
        return found

    def _keep(self, key: str, stored: _Stored | None, now: float, cache_ttl: float) -> None:
        size = len(key) + (len(stored.value) if stored is not None and stored.value is not None else 0)
        expires = stored.expiration if stored is not None else None
        self.read_cache.store(self.table, key, stored, now=now, ttl=cache_ttl, expires=expires, size=size)

    def _bulk(self, keys: Sequence[str], type_: str, cache_ttl: float | None = None) -> dict[str, _Stored | None]:
        _check_read_type(type_, bulk=True)
        unique = _check_bulk_keys(keys)
        found: dict[str, _Stored | None] = dict.fromkeys(unique)
        now = time.time()
        wanted = unique
        if cache_ttl is not None:
            wanted = []
            for key in unique:
                cached, stored = self.read_cache.lookup(self.table, key, now)
                if cached:
                    found[key] = stored
                else:
                    wanted.append(key)
        if not wanted:
            return found
        request: dict[str, Any] = {self.table: {"Keys": [self._item_key(k) for k in wanted]}}
        for response in self._batch(self._ddb.batch_get_item, request, "UnprocessedKeys"):
            for item in response.get("Responses", {}).get(self.table, []):
                stored = self._live(item, now)
                if stored is not None:
                    found[stored.key] = stored
        if cache_ttl is not None:
            for key in wanted:
                self._keep(key, found[key], now, cache_ttl)
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
        options: Mapping[str, Any] | None = None,
        *,
        expiration: float | None = None,
        expiration_ttl: float | None = None,
        metadata: Any = None,
        **worker_options: Any,
    ) -> None:
        """Store ``value`` under ``key``; optional absolute ``expiration`` or relative ``expiration_ttl`` (s), and
        ``metadata``, as keywords or as the Worker's ``{"expirationTtl": 60, "metadata": {...}}``."""
        chosen = common.worker_options(
            "put",
            PUT_OPTIONS,
            options,
            {"expiration": expiration, "expiration_ttl": expiration_ttl, "metadata": metadata},
            worker_options,
            error=InvalidOption,
        )
        _check_key(key)
        body = _encode_value(value)
        now = time.time()
        expires = _expiry(chosen.get("expiration"), chosen.get("expiration_ttl"), now)
        item = self._item(key, body, expires, _encode_metadata(chosen.get("metadata")))
        self.read_cache.forget(self.table, key)
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
        for key in entries:
            self.read_cache.forget(self.table, key)
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
        self.read_cache.forget(self.table, key)
        return True

    @reports_unavailable(DEPENDENCY)
    def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing key is not an error."""
        _check_key(key)
        self.read_cache.forget(self.table, key)
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
    def list(
        self,
        prefix: str | Mapping[str, Any] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        **worker_options: Any,
    ) -> KVListResult:
        """Keys in UTF-8 byte order, ``limit`` (1..1000, default 1000) at most per page, resumed with ``cursor``;
        or as a Worker calls it, ``list({"prefix": "user:", "limit": 10, "cursor": c})``.

        As on Cloudflare, a page may hold fewer keys than ``limit`` (expired keys are skipped) while
        ``list_complete`` is False; keep paging until it is True.
        """
        given = prefix if isinstance(prefix, Mapping) else {"prefix": prefix}
        chosen = common.worker_options(
            "list", LIST_OPTIONS, given, {"limit": limit, "cursor": cursor}, worker_options, error=InvalidOption
        )
        return self._list(chosen.get("prefix"), chosen.get("limit", LIST_LIMIT_MAX), chosen.get("cursor"))

    def _list(self, prefix: str | None, limit: int, cursor: str | None) -> KVListResult:
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


def iter_all_keys(kv: KVNamespace, prefix: str | None = None) -> Iterable[KVKey]:
    """Every live key under ``prefix``, following cursors until the list is complete."""
    cursor = None
    while True:
        page = kv.list(prefix=prefix, cursor=cursor)
        yield from page.keys
        if page.list_complete:
            return
        cursor = page.cursor

"""KVNamespace on DynamoDB and S3 (moto): Cloudflare's limits and errors, expiry, list order, paging, overflow, cost."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.bindings.kv import (
    BULK_GET_MAX,
    INLINE_VALUE_MAX_BYTES,
    KEY_MAX_BYTES,
    LIST_LIMIT_MAX,
    VALUE_MAX_BYTES,
    CorruptValue,
    InvalidExpiration,
    InvalidKey,
    InvalidListOptions,
    InvalidMetadata,
    KeyTooLong,
    KVError,
    KVKey,
    KVNamespace,
    KVValueWithMetadata,
    MetadataTooLarge,
    OverflowUnavailable,
    TooManyKeys,
    UnsupportedValueType,
    ValueTooLarge,
)
from ttai.layout import storage_layout

RawItem = Callable[[str], dict[str, Any] | None]
OverflowObjects = Callable[[], set[str]]

LAYOUT = storage_layout().kv
BIG = INLINE_VALUE_MAX_BYTES + 1  # the smallest value that lives in S3


def _sized_key(prefix: str, char: str, size: int = KEY_MAX_BYTES) -> str:
    """``prefix`` followed by ``char`` repeated (padded with "a") to exactly ``size`` UTF-8 bytes."""
    room = size - len(prefix.encode())
    width = len(char.encode())
    return prefix + "a" * (room % width) + char * (room // width)


def _names(keys: list[KVKey]) -> list[str]:
    return [k.name for k in keys]


def _utf8_sorted(names: list[str]) -> list[str]:
    return sorted(names, key=lambda name: name.encode("utf-8"))


def _all_pages(kv: KVNamespace, prefix: str | None, limit: int) -> list[list[KVKey]]:
    pages = []
    cursor = None
    while True:
        page = kv.list(prefix=prefix, limit=limit, cursor=cursor)
        pages.append(page.keys)
        if page.list_complete:
            assert page.cursor is None
            return pages
        assert page.cursor
        assert page.cursor != cursor, "the cursor does not move"
        assert len(pages) < 100
        cursor = page.cursor


def _expiry_tag(raw_s3: Any, bucket: str, name: str) -> str | None:
    tags = raw_s3.get_object_tagging(Bucket=bucket, Key=name)["TagSet"]
    found = {t["Key"]: t["Value"] for t in tags}
    return found.get(LAYOUT.overflow_expiry_tag)


@pytest.fixture
def bucket(stack: LocalStack) -> str:
    return stack.environ["TTAI_KV_OVERFLOW_BUCKET"]


# ============================================================ limits and errors


@pytest.mark.parametrize("key", ["", ".", "..", None, 42])
def test_an_invalid_key_is_refused_by_every_operation_without_any_call(
    kv: KVNamespace, aws_calls: CallCounter, key: Any
) -> None:
    operations: list[Callable[[], object]] = [
        lambda: kv.put(key, "v"),
        lambda: kv.get(key),
        lambda: kv.get_with_metadata(key),
        lambda: kv.delete(key),
        lambda: kv.get(["ok", key]),
    ]
    for operation in operations:
        with pytest.raises(InvalidKey):
            operation()
    assert aws_calls.total == 0


@pytest.mark.parametrize("char", ["a", "é", "€", "\U0001f600"])
def test_a_key_of_512_utf8_bytes_is_stored_and_one_byte_more_is_too_long(
    kv: KVNamespace, raw_item: RawItem, key_prefix: str, char: str
) -> None:
    longest = _sized_key(key_prefix, char)
    assert len(longest.encode()) == 512
    kv.put(longest, "fits")
    assert kv.get(longest) == "fits"
    assert _names(kv.list(prefix=key_prefix).keys) == [longest]

    too_long = _sized_key(key_prefix + "x", char, 513)
    assert len(too_long.encode()) == 513
    with pytest.raises(KeyTooLong):
        kv.put(too_long, "does not fit")
    assert raw_item(too_long) is None
    with pytest.raises(KeyTooLong):
        kv.get(too_long)


def test_a_key_that_crosses_512_bytes_by_its_last_multibyte_character_is_too_long(
    kv: KVNamespace, raw_item: RawItem, key_prefix: str
) -> None:
    key = _sized_key(key_prefix, "a", 511) + "é"
    assert (len(key.encode()), len(key)) == (513, 512)
    with pytest.raises(KeyTooLong):
        kv.put(key, "v")
    assert raw_item(key) is None


def test_a_value_of_exactly_25_mib_is_stored_in_s3_and_one_byte_more_is_refused(
    kv: KVNamespace, raw_item: RawItem, overflow_objects: OverflowObjects, key_prefix: str
) -> None:
    largest = bytes(range(256)) * (VALUE_MAX_BYTES // 256)
    assert len(largest) == VALUE_MAX_BYTES
    kv.put(f"{key_prefix}largest", largest)
    assert kv.get(f"{key_prefix}largest", "bytes") == largest
    item = raw_item(f"{key_prefix}largest")
    assert item is not None
    assert "v" not in item
    assert item["o"]["S"] in overflow_objects()

    before = overflow_objects()
    with pytest.raises(ValueTooLarge):
        kv.put(f"{key_prefix}too-large", largest + b"!")
    assert raw_item(f"{key_prefix}too-large") is None
    assert overflow_objects() == before

    kv.delete(f"{key_prefix}largest")  # 25 MiB is not left behind for the rest of the session
    assert item["o"]["S"] not in overflow_objects()


def _metadata_of(size: int) -> dict[str, str]:
    return {"a": "x" * (size - len('{"a":""}'))}


# Each builds put()'s keyword arguments from the frozen "now".
REFUSED_PUTS = [
    pytest.param(lambda now: {"value": b"x" * (VALUE_MAX_BYTES + 1)}, ValueTooLarge, id="value-25MiB+1"),
    pytest.param(lambda now: {"value": {"a": 1}}, UnsupportedValueType, id="value-dict"),
    pytest.param(lambda now: {"value": 7}, UnsupportedValueType, id="value-int"),
    pytest.param(lambda now: {"value": "v", "metadata": _metadata_of(1025)}, MetadataTooLarge, id="metadata-1025"),
    pytest.param(lambda now: {"value": "v", "metadata": {"when": object()}}, InvalidMetadata, id="metadata-object"),
    pytest.param(lambda now: {"value": "v", "metadata": {"n": math.nan}}, InvalidMetadata, id="metadata-nan"),
    pytest.param(lambda now: {"value": "v", "expiration_ttl": 59}, InvalidExpiration, id="ttl-59"),
    pytest.param(lambda now: {"value": "v", "expiration_ttl": math.nan}, InvalidExpiration, id="ttl-nan"),
    pytest.param(lambda now: {"value": "v", "expiration_ttl": math.inf}, InvalidExpiration, id="ttl-inf"),
    pytest.param(lambda now: {"value": "v", "expiration_ttl": True}, InvalidExpiration, id="ttl-bool"),
    pytest.param(lambda now: {"value": "v", "expiration": now + 59}, InvalidExpiration, id="expiration-in-59s"),
    pytest.param(lambda now: {"value": "v", "expiration": now - 1}, InvalidExpiration, id="expiration-past"),
    pytest.param(
        lambda now: {"value": "v", "expiration": now + 600, "expiration_ttl": 600}, InvalidExpiration, id="both"
    ),
    # Values bound for S3: refused before the upload, so no orphan object either.
    pytest.param(lambda now: {"value": b"x" * BIG, "expiration_ttl": 59}, InvalidExpiration, id="big-ttl-59"),
    pytest.param(lambda now: {"value": b"x" * BIG, "expiration": now}, InvalidExpiration, id="big-expiration-now"),
    pytest.param(
        lambda now: {"value": b"x" * BIG, "metadata": _metadata_of(1025)}, MetadataTooLarge, id="big-metadata-1025"
    ),
]


@pytest.mark.parametrize(("arguments", "error"), REFUSED_PUTS)
def test_a_refused_put_writes_nothing(
    kv: KVNamespace,
    raw_item: RawItem,
    overflow_objects: OverflowObjects,
    aws_calls: CallCounter,
    clock: Clock,
    key_prefix: str,
    arguments: Callable[[float], dict[str, Any]],
    error: type[KVError],
) -> None:
    before = overflow_objects()
    with pytest.raises(error):
        kv.put(f"{key_prefix}k", **arguments(clock.now))
    assert aws_calls.total == 0
    assert raw_item(f"{key_prefix}k") is None
    assert overflow_objects() == before


def test_a_refused_put_leaves_the_previous_value_in_place(kv: KVNamespace, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", "old", metadata={"v": 1})
    with pytest.raises(MetadataTooLarge):
        kv.put(f"{key_prefix}k", "new", metadata=_metadata_of(1025))
    assert kv.get_with_metadata(f"{key_prefix}k") == KVValueWithMetadata("old", {"v": 1})


def test_metadata_of_1024_bytes_is_stored_and_listed(kv: KVNamespace, key_prefix: str) -> None:
    metadata = _metadata_of(1024)
    assert len(json.dumps(metadata, separators=(",", ":")).encode()) == 1024
    kv.put(f"{key_prefix}k", "v", metadata=metadata)
    assert kv.get_with_metadata(f"{key_prefix}k").metadata == metadata
    assert kv.list(prefix=key_prefix).keys == [KVKey(f"{key_prefix}k", None, metadata)]


def test_a_ttl_of_60_seconds_is_the_shortest_accepted(
    kv: KVNamespace, raw_item: RawItem, clock: Clock, key_prefix: str
) -> None:
    kv.put(f"{key_prefix}k", "v", expiration_ttl=60)
    item = raw_item(f"{key_prefix}k")
    assert item is not None
    assert int(item[LAYOUT.ttl_attr]["N"]) == clock.now + 60


def test_an_expiration_60_seconds_ahead_is_the_nearest_accepted(
    kv: KVNamespace, raw_item: RawItem, clock: Clock, key_prefix: str
) -> None:
    kv.put(f"{key_prefix}k", "v", expiration=clock.now + 60)
    item = raw_item(f"{key_prefix}k")
    assert item is not None
    assert int(item[LAYOUT.ttl_attr]["N"]) == clock.now + 60


@pytest.mark.parametrize("limit", [0, 1001, -5, "10", 2.5, True])
def test_a_list_limit_outside_1_to_1000_is_refused(kv: KVNamespace, aws_calls: CallCounter, limit: Any) -> None:
    with pytest.raises(InvalidListOptions):
        kv.list(limit=limit)
    assert aws_calls.total == 0


def test_a_list_limit_of_1000_is_accepted(kv: KVNamespace, key_prefix: str) -> None:
    kv.put_many({f"{key_prefix}{i}": "v" for i in range(3)})
    page = kv.list(prefix=key_prefix, limit=LIST_LIMIT_MAX)
    assert (len(page.keys), page.list_complete, page.cursor) == (3, True, None)


def test_a_cursor_is_refused_with_another_prefix_and_garbage_is_refused(kv: KVNamespace, key_prefix: str) -> None:
    kv.put_many({f"{key_prefix}a:{i}": "v" for i in range(3)})
    cursor = kv.list(prefix=f"{key_prefix}a:", limit=1).cursor
    assert cursor is not None
    for prefix in (f"{key_prefix}b:", key_prefix, None):
        with pytest.raises(InvalidListOptions):
            kv.list(prefix=prefix, cursor=cursor)
    for garbage in ("garbage", "eyJhIjoxfQ", cursor[:-3], "é"):
        with pytest.raises(InvalidListOptions):
            kv.list(prefix=f"{key_prefix}a:", cursor=garbage)


def test_a_bulk_get_takes_100_keys_in_one_call_and_refuses_101(
    kv: KVNamespace, aws_calls: CallCounter, key_prefix: str
) -> None:
    keys = [f"{key_prefix}{i:03d}" for i in range(BULK_GET_MAX + 1)]
    kv.put_many({key: key for key in keys})
    aws_calls.calls.clear()

    values = kv.get(keys[:100])
    assert values == {key: key for key in keys[:100]}
    assert aws_calls.by_operation() == {"BatchGetItem": 1}

    with pytest.raises(TooManyKeys):
        kv.get(keys)
    with pytest.raises(TooManyKeys):
        kv.get_with_metadata(keys)
    assert aws_calls.total == 1


def test_read_types_the_binding_does_not_offer_are_refused(kv: KVNamespace, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", "v")
    with pytest.raises(UnsupportedValueType):
        kv.get(f"{key_prefix}k", "stream")  # type: ignore[call-overload]
    with pytest.raises(UnsupportedValueType):
        kv.get([f"{key_prefix}k"], "bytes")
    with pytest.raises(UnsupportedValueType):
        kv.get_with_metadata([f"{key_prefix}k"], "bytes")


# ===================================================================== reads


def test_a_value_reads_as_text_json_or_bytes(kv: KVNamespace, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", '{"name": "Société Générale"}')
    assert kv.get(f"{key_prefix}k") == '{"name": "Société Générale"}'
    assert kv.get(f"{key_prefix}k", "text") == '{"name": "Société Générale"}'
    assert kv.get(f"{key_prefix}k", "json") == {"name": "Société Générale"}
    assert kv.get(f"{key_prefix}k", "bytes") == '{"name": "Société Générale"}'.encode()


def test_binary_and_empty_values_round_trip(kv: KVNamespace, key_prefix: str) -> None:
    kv.put(f"{key_prefix}bin", bytearray(b"\x00\x01\xff"))
    kv.put(f"{key_prefix}empty", "")
    assert kv.get(f"{key_prefix}bin", "bytes") == b"\x00\x01\xff"
    assert kv.get(f"{key_prefix}empty") == ""  # present and empty, not missing
    assert kv.get([f"{key_prefix}empty"]) == {f"{key_prefix}empty": ""}


def test_a_missing_key_reads_as_none(kv: KVNamespace, key_prefix: str) -> None:
    assert kv.get(f"{key_prefix}missing") is None
    assert kv.get(f"{key_prefix}missing", "json") is None
    assert kv.get(f"{key_prefix}missing", "bytes") is None
    assert kv.get_with_metadata(f"{key_prefix}missing") == KVValueWithMetadata(None, None)


def test_get_with_metadata_returns_both(kv: KVNamespace, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", "[1, 2]", metadata={"source": "feed", "n": 2})
    kv.put(f"{key_prefix}plain", "v")
    assert kv.get_with_metadata(f"{key_prefix}k", "json") == KVValueWithMetadata([1, 2], {"source": "feed", "n": 2})
    assert kv.get_with_metadata(f"{key_prefix}plain") == KVValueWithMetadata("v", None)


def test_a_bulk_get_keeps_the_requested_order_maps_missing_to_none_and_tolerates_duplicates(
    kv: KVNamespace, key_prefix: str
) -> None:
    a, b, missing = f"{key_prefix}a", f"{key_prefix}b", f"{key_prefix}missing"
    kv.put(a, '"A"')
    kv.put(b, '"B"', metadata={"m": 1})
    values = kv.get([b, missing, a, b])
    assert list(values.items()) == [(b, '"B"'), (missing, None), (a, '"A"')]
    assert kv.get([a, b], "json") == {a: "A", b: "B"}
    assert kv.get_with_metadata([missing, b, a], "json") == {
        missing: None,
        b: KVValueWithMetadata("B", {"m": 1}),
        a: KVValueWithMetadata("A", None),
    }


def test_a_value_that_is_not_json_read_as_json_is_corrupt(kv: KVNamespace, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", "{not json")
    kv.put(f"{key_prefix}empty", "")
    with pytest.raises(CorruptValue):
        kv.get(f"{key_prefix}k", "json")
    with pytest.raises(CorruptValue):
        kv.get(f"{key_prefix}empty", "json")
    with pytest.raises(CorruptValue):
        kv.get([f"{key_prefix}k"], "json")
    assert kv.get(f"{key_prefix}k") == "{not json"


def test_invalid_utf8_read_as_text_becomes_replacement_characters(kv: KVNamespace, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", b"ok \xff\xfe end \xe2\x82")
    assert kv.get(f"{key_prefix}k") == "ok \ufffd\ufffd end \ufffd"
    assert kv.get([f"{key_prefix}k"]) == {f"{key_prefix}k": "ok \ufffd\ufffd end \ufffd"}
    assert kv.get(f"{key_prefix}k", "bytes") == b"ok \xff\xfe end \xe2\x82"


# ==================================================================== expiry


def test_an_expired_key_is_invisible_while_dynamodb_still_holds_it(
    kv: KVNamespace, raw_item: RawItem, clock: Clock, key_prefix: str
) -> None:
    gone, kept = f"{key_prefix}gone", f"{key_prefix}kept"
    kv.put(gone, "v", expiration_ttl=60, metadata={"m": 1})
    kv.put(kept, "v")

    clock.travel(61)

    assert kv.get(gone) is None
    assert kv.get_with_metadata(gone) == KVValueWithMetadata(None, None)
    assert kv.get([gone, kept]) == {gone: None, kept: "v"}
    assert kv.get_with_metadata([gone]) == {gone: None}
    assert _names(kv.list(prefix=key_prefix).keys) == [kept]
    assert raw_item(gone) is not None  # DynamoDB's TTL sweep has not run: the binding hides it


def test_a_key_is_there_one_second_before_its_expiration_and_gone_at_it(
    kv: KVNamespace, clock: Clock, key_prefix: str
) -> None:
    by_ttl, by_time = f"{key_prefix}ttl", f"{key_prefix}time"
    kv.put(by_ttl, "v", expiration_ttl=60)
    kv.put(by_time, "v", expiration=clock.now + 60)

    clock.travel(59)
    assert kv.get(by_ttl) == kv.get(by_time) == "v"
    assert kv.get_with_metadata(by_ttl).value == "v"
    assert kv.get([by_ttl, by_time]) == {by_ttl: "v", by_time: "v"}
    assert _names(kv.list(prefix=key_prefix).keys) == [by_time, by_ttl]

    clock.travel(1)
    assert kv.get(by_ttl) is kv.get(by_time) is None
    assert kv.get_with_metadata(by_ttl) == KVValueWithMetadata(None, None)
    assert kv.get([by_ttl, by_time]) == {by_ttl: None, by_time: None}
    assert kv.list(prefix=key_prefix).keys == []


def test_listed_keys_carry_expiration_and_metadata_only_when_set(
    kv: KVNamespace, clock: Clock, key_prefix: str
) -> None:
    kv.put(f"{key_prefix}1-both", "v", expiration_ttl=600, metadata={"tier": "hot"})
    kv.put(f"{key_prefix}2-expiring", "v", expiration=clock.now + 3600)
    kv.put(f"{key_prefix}3-metadata", "v", metadata=["a", 1])
    kv.put(f"{key_prefix}4-plain", "v")
    assert kv.list(prefix=key_prefix).keys == [
        KVKey(f"{key_prefix}1-both", int(clock.now) + 600, {"tier": "hot"}),
        KVKey(f"{key_prefix}2-expiring", int(clock.now) + 3600, None),
        KVKey(f"{key_prefix}3-metadata", None, ["a", 1]),
        KVKey(f"{key_prefix}4-plain", None, None),
    ]


def test_a_put_without_expiration_makes_an_expiring_key_permanent(
    kv: KVNamespace, clock: Clock, key_prefix: str
) -> None:
    kv.put(f"{key_prefix}k", "first", expiration_ttl=60, metadata={"m": 1})
    kv.put(f"{key_prefix}k", "second")
    clock.travel(3600)
    assert kv.get_with_metadata(f"{key_prefix}k") == KVValueWithMetadata("second", None)
    assert kv.list(prefix=key_prefix).keys == [KVKey(f"{key_prefix}k")]


# ========================================================== list order, paging


# Code-point (= UTF-8 byte) order differs from case-insensitive, locale and UTF-16 order for these.
ORDER_TRAPS = ["a", "B", "é", "z", "€", "\U0001f600", "a/b", "a:b", "ab", "A", "~", "\ufb01", "\U00010000", "Z0"]


def test_list_returns_keys_in_utf8_byte_order(kv: KVNamespace, key_prefix: str) -> None:
    keys = [key_prefix + name for name in ORDER_TRAPS]
    for key in keys:
        kv.put(key, "v")
    expected = _utf8_sorted(keys)
    assert expected.index(key_prefix + "\ufb01") < expected.index(key_prefix + "\U0001f600")  # UTF-16 disagrees

    assert _names(kv.list(prefix=key_prefix).keys) == expected
    assert [name for page in _all_pages(kv, key_prefix, 3) for name in _names(page)] == expected


def test_paging_returns_every_key_once_in_order_with_one_query_per_shard_per_page(
    kv: KVNamespace, aws_calls: CallCounter, key_prefix: str
) -> None:
    keys = [f"{key_prefix}{i:04d}" for i in range(250)]
    kv.put_many(dict.fromkeys(keys, "v"))
    aws_calls.calls.clear()

    pages = _all_pages(kv, key_prefix, 40)

    assert [name for page in pages for name in _names(page)] == keys
    assert all(len(page) <= 40 for page in pages)
    assert len(pages) >= math.ceil(250 / 40)
    assert aws_calls.calls["Scan"] == 0
    assert aws_calls.by_operation() == {"Query": LAYOUT.list_shards * len(pages)}


def test_a_cursor_resumes_right_after_the_last_key_returned(kv: KVNamespace, key_prefix: str) -> None:
    kv.put_many({f"{key_prefix}{i:02d}": "v" for i in range(20)})
    first = kv.list(prefix=key_prefix, limit=5)
    last = first.keys[-1].name
    assert not first.list_complete

    # A cursor is a position, not an offset: a key written after the last one returned is next,
    # one written before it is not seen again.
    kv.put(f"{last}+", "v")
    kv.put(f"{key_prefix}00+", "v")
    following = kv.list(prefix=key_prefix, limit=5, cursor=first.cursor)
    assert following.keys[0].name == f"{last}+"
    assert all(key.name > last for key in following.keys)


def test_a_prefix_lists_only_its_own_keys(kv: KVNamespace, key_prefix: str) -> None:
    inside = [f"{key_prefix}a", f"{key_prefix}a/x", f"{key_prefix}ab", f"{key_prefix}a\U0010ffff"]
    outside = [f"{key_prefix}b", f"{key_prefix}", f"{key_prefix}`", f"{key_prefix[:-1]};"]
    for key in inside + outside:
        if key != key_prefix:
            kv.put(key, "v")
    assert _names(kv.list(prefix=f"{key_prefix}a").keys) == _utf8_sorted(inside)


@pytest.mark.parametrize(
    ("last_char", "inside", "successor"),
    [
        pytest.param("a", ["", "/", "0", "\U0010ffff"], "b", id="ascii"),
        pytest.param(":", ["", "a", "é"], ";", id="separator"),
        pytest.param("a\U0010ffff", ["", "z", "\U0010ffff"], "b", id="max-code-point-carries"),
        pytest.param("\ud7ff", ["", "1", "\ud7ff"], "\ue000", id="skips-surrogates"),
    ],
)
def test_paging_one_key_at_a_time_stops_at_the_prefix_boundary(
    kv: KVNamespace, key_prefix: str, last_char: str, inside: list[str], successor: str
) -> None:
    # The key right after the prefix's range exists: cursor pages must neither return it nor loop on it.
    prefix = key_prefix + last_char
    stem = prefix[: -len(last_char)] if len(last_char) == 1 else key_prefix
    expected = _utf8_sorted([prefix + rest for rest in inside])
    for key in [*expected, stem + successor, stem + successor + "0"]:
        kv.put(key, "v")

    pages = _all_pages(kv, prefix, 1)

    assert [name for page in pages for name in _names(page)] == expected
    assert len(pages) <= len(expected) + 1


def test_listing_without_a_prefix_pages_through_the_whole_namespace_in_order(
    kv: KVNamespace, aws_calls: CallCounter, key_prefix: str
) -> None:
    kv.put_many({f"{key_prefix}{i}": "v" for i in range(12)})
    aws_calls.calls.clear()
    seen: list[str] = []
    page = kv.list(limit=7)
    for _ in range(3):
        seen += _names(page.keys)
        if page.list_complete:
            break
        page = kv.list(limit=7, cursor=page.cursor)
    assert seen == _utf8_sorted(seen)
    assert len(seen) == len(set(seen)) >= 12
    assert aws_calls.calls["Scan"] == 0


def test_expired_keys_are_skipped_across_pages(kv: KVNamespace, clock: Clock, key_prefix: str) -> None:
    kv.put_many({f"{key_prefix}{i:02d}": "v" for i in range(0, 30, 2)})
    kv.put_many({f"{key_prefix}{i:02d}": "v" for i in range(1, 30, 2)}, expiration_ttl=60)
    clock.travel(60)
    names = [name for page in _all_pages(kv, key_prefix, 4) for name in _names(page)]
    assert names == [f"{key_prefix}{i:02d}" for i in range(0, 30, 2)]


# ================================================================= overflow


def test_a_value_too_big_for_an_item_round_trips_through_s3(
    kv: KVNamespace, raw_item: RawItem, raw_s3: Any, bucket: str, key_prefix: str
) -> None:
    document = {"chain": "é" * (BIG // 2)}
    text = json.dumps(document, ensure_ascii=False)
    assert len(text.encode()) > INLINE_VALUE_MAX_BYTES
    key = f"{key_prefix}chain"
    kv.put(key, text, metadata={"rows": 1})

    assert kv.get(key, "bytes") == text.encode()
    assert kv.get(key) == text
    assert kv.get(key, "json") == document
    assert kv.get_with_metadata(key, "json") == KVValueWithMetadata(document, {"rows": 1})
    assert kv.get([key]) == {key: text}

    item = raw_item(key)
    assert item is not None
    assert "v" not in item
    name = item["o"]["S"]
    assert name.startswith(LAYOUT.overflow_prefix)
    assert raw_s3.get_object(Bucket=bucket, Key=name)["Body"].read() == text.encode()


def test_the_largest_inline_value_fits_in_an_item_with_the_longest_key_and_metadata(
    kv: KVNamespace, raw_item: RawItem, overflow_objects: OverflowObjects, key_prefix: str
) -> None:
    key = _sized_key(key_prefix, "€")
    before = overflow_objects()
    kv.put(key, b"x" * INLINE_VALUE_MAX_BYTES, metadata=_metadata_of(1024), expiration_ttl=60)
    item = raw_item(key)
    assert item is not None
    assert "o" not in item
    assert len(item["v"]["B"]) == INLINE_VALUE_MAX_BYTES
    assert overflow_objects() == before


def test_overwriting_an_overflow_value_deletes_its_s3_object(
    kv: KVNamespace, raw_item: RawItem, overflow_objects: OverflowObjects, key_prefix: str
) -> None:
    key = f"{key_prefix}k"
    before = overflow_objects()
    kv.put(key, b"1" * BIG)
    first = overflow_objects() - before
    assert len(first) == 1

    kv.put(key, b"2" * BIG)
    second = overflow_objects() - before
    assert len(second) == 1
    assert second != first
    assert kv.get(key, "bytes") == b"2" * BIG

    kv.put(key, "small")
    assert overflow_objects() == before
    item = raw_item(key)
    assert item is not None
    assert (item["v"]["B"], "o" in item) == (b"small", False)


def test_delete_removes_the_item_and_its_s3_object(
    kv: KVNamespace, raw_item: RawItem, overflow_objects: OverflowObjects, key_prefix: str
) -> None:
    before = overflow_objects()
    kv.put(f"{key_prefix}k", b"x" * BIG)
    assert overflow_objects() != before
    kv.delete(f"{key_prefix}k")
    assert raw_item(f"{key_prefix}k") is None
    assert overflow_objects() == before
    assert kv.get(f"{key_prefix}k") is None
    kv.delete(f"{key_prefix}k")  # deleting a missing key is not an error


@pytest.mark.parametrize(
    ("ttl", "tag"),
    [
        (60, "1"),
        (86_400, "1"),
        (86_401, "7"),
        (7 * 86_400, "7"),
        (8 * 86_400, "30"),
        (31 * 86_400, "365"),
        (366 * 86_400, None),  # beyond every bucket: kept until the key is overwritten or deleted
        (None, None),
    ],
)
def test_an_expiring_overflow_object_is_tagged_with_the_smallest_day_bucket_that_outlives_it(
    kv: KVNamespace,
    raw_item: RawItem,
    raw_s3: Any,
    bucket: str,
    clock: Clock,
    key_prefix: str,
    ttl: int | None,
    tag: str | None,
) -> None:
    kv.put(f"{key_prefix}k", b"x" * BIG, expiration_ttl=ttl)
    item = raw_item(f"{key_prefix}k")
    assert item is not None
    assert _expiry_tag(raw_s3, bucket, item["o"]["S"]) == tag
    if tag is not None and ttl is not None:  # the table itself: a bucket outlives the TTL
        assert int(tag) * 86_400 >= ttl
    kv.delete(f"{key_prefix}k")


def test_an_overflow_value_expires_like_any_other(kv: KVNamespace, clock: Clock, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", b"x" * BIG, expiration_ttl=60)
    clock.travel(60)
    assert kv.get(f"{key_prefix}k", "bytes") is None
    assert kv.list(prefix=key_prefix).keys == []


def test_without_an_overflow_bucket_a_big_value_is_refused_and_nothing_is_written(
    kv: KVNamespace, stack: LocalStack, raw_item: RawItem, overflow_objects: OverflowObjects, key_prefix: str
) -> None:
    no_overflow = KVNamespace(kv.table, dynamodb=stack.client("dynamodb"))
    before = overflow_objects()
    with pytest.raises(OverflowUnavailable):
        no_overflow.put(f"{key_prefix}big", b"x" * BIG)
    assert raw_item(f"{key_prefix}big") is None
    assert overflow_objects() == before

    # A value another binding put in S3 cannot be read without the bucket either: an error, never a wrong value.
    kv.put(f"{key_prefix}stored", b"x" * BIG)
    with pytest.raises(OverflowUnavailable):
        no_overflow.get(f"{key_prefix}stored", "bytes")
    kv.delete(f"{key_prefix}stored")


# ====================================================== calls per operation


def test_each_single_key_operation_is_one_call(kv: KVNamespace, aws_calls: CallCounter, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", "v", metadata={"m": 1}, expiration_ttl=600)
    assert aws_calls.by_operation() == {"PutItem": 1}
    aws_calls.calls.clear()
    assert kv.get(f"{key_prefix}k") == "v"
    assert aws_calls.by_operation() == {"GetItem": 1}
    aws_calls.calls.clear()
    assert kv.get_with_metadata(f"{key_prefix}missing").value is None
    assert aws_calls.by_operation() == {"GetItem": 1}
    aws_calls.calls.clear()
    kv.delete(f"{key_prefix}k")
    assert aws_calls.by_operation() == {"DeleteItem": 1}


def test_a_big_put_is_one_upload_and_one_item_write(kv: KVNamespace, aws_calls: CallCounter, key_prefix: str) -> None:
    kv.put(f"{key_prefix}k", b"x" * BIG)
    assert aws_calls.by_operation() == {"PutObject": 1, "PutItem": 1}
    aws_calls.calls.clear()
    kv.get(f"{key_prefix}k", "bytes")
    assert aws_calls.by_operation() == {"GetItem": 1, "GetObject": 1}
    kv.delete(f"{key_prefix}k")


def test_put_many_writes_25_items_per_call(kv: KVNamespace, aws_calls: CallCounter, key_prefix: str) -> None:
    kv.put_many({f"{key_prefix}{i}": "v" for i in range(51)}, expiration_ttl=60)
    assert aws_calls.by_operation() == {"BatchWriteItem": 3}
    assert len(kv.list(prefix=key_prefix).keys) == 51

"""KV's rules as Cloudflare documents them, on the binding's pure functions and with clients that must not be called."""

from __future__ import annotations

import base64
import json
import math
import socket
from typing import Any, NoReturn

import pytest
import pytest_socket

from ttai.bindings.kv import (
    BULK_GET_MAX,
    INLINE_VALUE_MAX_BYTES,
    KEY_MAX_BYTES,
    METADATA_MAX_BYTES,
    VALUE_MAX_BYTES,
    InvalidExpiration,
    InvalidKey,
    InvalidListOptions,
    InvalidMetadata,
    KeyTooLong,
    KVError,
    KVNamespace,
    MetadataTooLarge,
    OverflowUnavailable,
    TooManyKeys,
    UnsupportedValueType,
    ValueTooLarge,
)
from ttai.bindings.kv_rules import _check_key, _decode_cursor, _encode_cursor, _encode_metadata, _encode_value, _expiry
from ttai.errors import BindingError

NOW = 1_800_000_000.0


class UnreachableClient:
    """A boto3 client stand-in for calls that must be refused before any request: every method fails the test."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**_: Any) -> NoReturn:
            self.calls.append(operation)
            raise AssertionError(f"{operation} was called, but the input should have been refused first")

        return call


@pytest.fixture
def dynamodb() -> UnreachableClient:
    return UnreachableClient()


@pytest.fixture
def s3() -> UnreachableClient:
    return UnreachableClient()


@pytest.fixture
def kv(dynamodb: UnreachableClient, s3: UnreachableClient) -> KVNamespace:
    return KVNamespace("kv-table", overflow_bucket="kv-overflow", dynamodb=dynamodb, s3=s3)


# ---------------------------------------------------------------------- keys


@pytest.mark.parametrize("key", ["", ".", "..", None, 7, b"key", ["key"]])
def test_empty_dot_dotdot_and_non_string_keys_are_invalid(key: Any) -> None:
    with pytest.raises(InvalidKey):
        _check_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "a" * 512,
        "é" * 256,  # 2 bytes each
        "€" * 170 + "ab",  # 3 bytes each
        "\U0001f600" * 128,  # 4 bytes each
        "...",
        "a/../b",
    ],
)
def test_keys_up_to_512_utf8_bytes_are_valid(key: str) -> None:
    assert len(key.encode()) <= KEY_MAX_BYTES
    _check_key(key)


@pytest.mark.parametrize("key", ["a" * 513, "é" * 256 + "a", "é" * 257, "\U0001f600" * 128 + "a", "€" * 171])
def test_keys_over_512_utf8_bytes_are_too_long(key: str) -> None:
    # Every one of these is under 512 characters except the first: the limit is in bytes.
    assert len(key.encode()) > KEY_MAX_BYTES
    with pytest.raises(KeyTooLong):
        _check_key(key)


def test_key_errors_are_binding_errors() -> None:
    assert issubclass(KeyTooLong, InvalidKey)
    assert issubclass(InvalidKey, KVError)
    assert issubclass(KVError, BindingError)


def test_a_key_with_a_lone_surrogate_is_invalid() -> None:
    with pytest.raises(InvalidKey, match="not valid Unicode"):
        _check_key("a\ud800b")


# -------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("héllo", "héllo".encode()),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"abc"), b"abc"),
        ("", b""),
    ],
)
def test_text_and_binary_values_are_stored_as_their_bytes(value: Any, expected: bytes) -> None:
    body = _encode_value(value)
    assert body == expected
    assert type(body) is bytes


@pytest.mark.parametrize("value", [{"a": 1}, 42, 1.5, None, ["a"], True])
def test_values_other_than_text_or_bytes_are_unsupported(value: Any) -> None:
    with pytest.raises(UnsupportedValueType):
        _encode_value(value)


def test_a_value_of_exactly_25_mib_is_accepted_and_one_byte_more_is_too_large() -> None:
    assert VALUE_MAX_BYTES == 25 * 1024 * 1024
    assert len(_encode_value(b"x" * VALUE_MAX_BYTES)) == VALUE_MAX_BYTES
    with pytest.raises(ValueTooLarge):
        _encode_value(b"x" * (VALUE_MAX_BYTES + 1))


def test_the_value_limit_counts_utf8_bytes_not_characters() -> None:
    text = "é" * (VALUE_MAX_BYTES // 2) + "a"  # far fewer characters than the limit, one byte over it
    with pytest.raises(ValueTooLarge):
        _encode_value(text)


# ------------------------------------------------------------------ metadata


def test_no_metadata_is_stored_as_none() -> None:
    assert _encode_metadata(None) is None


def test_metadata_is_stored_as_compact_json_without_escaping_non_ascii() -> None:
    assert _encode_metadata({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'
    assert _encode_metadata(0) == "0"
    assert _encode_metadata({}) == "{}"


@pytest.mark.parametrize(
    "metadata",
    [
        {"a": "x" * 1016},  # {"a":"..."} = 8 bytes of JSON around the string
        {"a": "é" * 508},  # 1016 bytes of two-byte characters
    ],
)
def test_metadata_of_1024_json_bytes_is_accepted(metadata: Any) -> None:
    encoded = _encode_metadata(metadata)
    assert encoded is not None
    assert len(encoded.encode()) == METADATA_MAX_BYTES


@pytest.mark.parametrize("metadata", [{"a": "x" * 1017}, {"a": "é" * 508 + "x"}])
def test_metadata_of_1025_json_bytes_is_too_large(metadata: Any) -> None:
    with pytest.raises(MetadataTooLarge):
        _encode_metadata(metadata)


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


@pytest.mark.parametrize("metadata", [object(), {1, 2}, {"n": math.nan}, {"n": math.inf}, _circular(), b"raw"])
def test_metadata_that_is_not_json_serializable_is_invalid(metadata: Any) -> None:
    with pytest.raises(InvalidMetadata):
        _encode_metadata(metadata)


# ---------------------------------------------------------------- expiration


def test_no_expiration_means_the_key_never_expires() -> None:
    assert _expiry(None, None, NOW) is None


@pytest.mark.parametrize(("ttl", "expected"), [(60, NOW + 60), (60.9, NOW + 60), (86_400, NOW + 86_400)])
def test_an_expiration_ttl_of_at_least_60_seconds_expires_that_many_whole_seconds_from_now(
    ttl: float, expected: float
) -> None:
    assert _expiry(None, ttl, NOW) == int(expected)


def test_the_ttl_counts_from_the_whole_second() -> None:
    assert _expiry(None, 60, NOW + 0.999) == int(NOW) + 60


@pytest.mark.parametrize("ttl", [59, 59.99, 0, -60, math.nan, math.inf, -math.inf, True, False, "60", [60]])
def test_a_ttl_under_60_seconds_or_not_a_finite_number_is_invalid(ttl: Any) -> None:
    with pytest.raises(InvalidExpiration):
        _expiry(None, ttl, NOW)


@pytest.mark.parametrize("at", [NOW + 60, NOW + 61.5, NOW + 365 * 86_400])
def test_an_expiration_at_least_60_seconds_ahead_is_kept_as_whole_seconds(at: float) -> None:
    assert _expiry(at, None, NOW) == int(at)


@pytest.mark.parametrize("at", [NOW + 59, NOW, NOW - 1, 0, math.nan, math.inf, True, "1900000000"])
def test_an_expiration_under_60_seconds_ahead_in_the_past_or_not_a_number_is_invalid(at: Any) -> None:
    with pytest.raises(InvalidExpiration):
        _expiry(at, None, NOW)


def test_expiration_and_expiration_ttl_together_are_invalid() -> None:
    with pytest.raises(InvalidExpiration, match="not both"):
        _expiry(NOW + 3600, 3600, NOW)


# ------------------------------------------------------------- list helpers


@pytest.mark.parametrize(
    ("after", "prefix"),
    [("a", None), ("user:1:é\U0001f600", "user:1:"), ("x" * 512, "x"), ('quote"\\', None)],
)
def test_a_cursor_round_trips_for_the_prefix_it_was_issued_for(after: str, prefix: str | None) -> None:
    cursor = _encode_cursor(after, prefix)
    assert cursor.isascii()
    assert "=" not in cursor  # URL-safe without padding, like Cloudflare's opaque cursors
    assert _decode_cursor(cursor, prefix) == after


@pytest.mark.parametrize(
    ("issued_for", "used_with"),
    [("a:", "b:"), ("a:", None), (None, "a:"), ("a:", "a"), ("a:", "")],
)
def test_a_cursor_used_with_another_prefix_is_refused(issued_for: str | None, used_with: str | None) -> None:
    with pytest.raises(InvalidListOptions):
        _decode_cursor(_encode_cursor("a:1", issued_for), used_with)


def _b64(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!!",
        "é",
        _b64(["a", None]),
        _b64("a"),
        _b64({"a": "x"}),
        _b64({"p": None}),
        _b64({"a": 1, "p": None}),
        _b64(None),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _b64({"a": "\ud800", "p": None}),  # a lone surrogate: no key DynamoDB holds, nor one it takes
    ],
)
def test_a_cursor_the_namespace_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidListOptions):
        _decode_cursor(cursor, None)


# ---------------------------------------- the binding refuses before calling AWS


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"key": "", "value": "v"}, InvalidKey),
        ({"key": "..", "value": "v"}, InvalidKey),
        ({"key": "k" * 513, "value": "v"}, KeyTooLong),
        ({"key": "k", "value": {"a": 1}}, UnsupportedValueType),
        ({"key": "k", "value": 1}, UnsupportedValueType),
        ({"key": "k", "value": "v", "expiration_ttl": 59}, InvalidExpiration),
        ({"key": "k", "value": "v", "expiration": NOW + 59}, InvalidExpiration),
        ({"key": "k", "value": "v", "expiration": NOW + 120, "expiration_ttl": 120}, InvalidExpiration),
        ({"key": "k", "value": "v", "metadata": {"a": "x" * 1017}}, MetadataTooLarge),
        ({"key": "k", "value": "v", "metadata": {1, 2}}, InvalidMetadata),
        # A value bound for S3 is still refused before it is uploaded.
        ({"key": "k", "value": b"x" * (INLINE_VALUE_MAX_BYTES + 1), "expiration_ttl": 1}, InvalidExpiration),
        ({"key": "k", "value": b"x" * (INLINE_VALUE_MAX_BYTES + 1), "metadata": {"a": "x" * 1017}}, MetadataTooLarge),
    ],
)
def test_an_invalid_put_makes_no_call(
    kv: KVNamespace,
    dynamodb: UnreachableClient,
    s3: UnreachableClient,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    error: type[KVError],
) -> None:
    monkeypatch.setattr("time.time", lambda: NOW)
    with pytest.raises(error):
        kv.put(**kwargs)
    assert dynamodb.calls == s3.calls == []


def test_a_value_too_big_for_an_item_without_an_overflow_bucket_is_refused(dynamodb: UnreachableClient) -> None:
    kv = KVNamespace("kv-table", dynamodb=dynamodb)
    with pytest.raises(OverflowUnavailable, match="overflow bucket"):
        kv.put("k", b"x" * (INLINE_VALUE_MAX_BYTES + 1))
    assert dynamodb.calls == []


def test_put_many_refuses_every_entry_before_writing_any(kv: KVNamespace, dynamodb: UnreachableClient) -> None:
    with pytest.raises(ValueTooLarge, match="use put"):
        kv.put_many({"a": "small", "b": b"x" * (INLINE_VALUE_MAX_BYTES + 1)})
    with pytest.raises(InvalidKey):
        kv.put_many({"a": "small", "..": "v"})
    assert dynamodb.calls == []


@pytest.mark.parametrize("limit", [0, -1, 1001, 10**6, "10", 2.0, True])  # None: not given, so 1000
def test_a_list_limit_outside_1_to_1000_or_not_an_int_is_refused(
    kv: KVNamespace, dynamodb: UnreachableClient, limit: Any
) -> None:
    with pytest.raises(InvalidListOptions):
        kv.list(limit=limit)
    assert dynamodb.calls == []


def test_a_list_prefix_over_512_bytes_or_not_text_is_refused(kv: KVNamespace, dynamodb: UnreachableClient) -> None:
    with pytest.raises(KeyTooLong):
        kv.list(prefix="é" * 257)
    with pytest.raises(InvalidKey):
        kv.list(prefix=b"a")  # type: ignore[arg-type]
    assert dynamodb.calls == []


def test_a_list_cursor_for_another_prefix_is_refused_before_querying(
    kv: KVNamespace, dynamodb: UnreachableClient
) -> None:
    with pytest.raises(InvalidListOptions):
        kv.list(prefix="b:", cursor=_encode_cursor("a:1", "a:"))
    assert dynamodb.calls == []


def test_a_bulk_get_takes_at_most_100_keys(kv: KVNamespace, dynamodb: UnreachableClient) -> None:
    with pytest.raises(TooManyKeys):
        kv.get([f"k{i}" for i in range(BULK_GET_MAX + 1)])
    with pytest.raises(TooManyKeys):
        kv.get_with_metadata([f"k{i}" for i in range(BULK_GET_MAX + 1)])
    assert dynamodb.calls == []


@pytest.mark.parametrize("keys", [["a", ""], ["a", None], ["a", "é" * 257]])
def test_a_bulk_get_with_an_invalid_key_is_refused(kv: KVNamespace, dynamodb: UnreachableClient, keys: Any) -> None:
    with pytest.raises(InvalidKey):
        kv.get(keys)
    assert dynamodb.calls == []


def test_an_empty_bulk_get_answers_without_a_call(kv: KVNamespace, dynamodb: UnreachableClient) -> None:
    assert kv.get([]) == {}
    assert dynamodb.calls == []


def test_read_types_cloudflare_does_not_offer_here_are_unsupported(
    kv: KVNamespace, dynamodb: UnreachableClient
) -> None:
    with pytest.raises(UnsupportedValueType):
        kv.get("k", "stream")  # type: ignore[call-overload]
    with pytest.raises(UnsupportedValueType):
        kv.get(["a", "b"], "arrayBuffer")
    # Cloudflare's bulk get reads only text or json.
    with pytest.raises(UnsupportedValueType):
        kv.get(["a", "b"], "bytes")
    with pytest.raises(UnsupportedValueType):
        kv.get_with_metadata(["a", "b"], "bytes")
    assert dynamodb.calls == []


def test_unit_tests_cannot_open_sockets() -> None:
    # The guard every test above relies on to prove it made no network call.
    with pytest.warns(UserWarning, match="socket"), pytest.raises(pytest_socket.SocketBlockedError):
        socket.socket()

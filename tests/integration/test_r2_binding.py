"""R2Bucket on S3 (moto): R2's reads, ranges, conditions, writes, metadata limits and errors."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.r2 import (
    CUSTOM_METADATA_MAX_BYTES,
    DELETE_MAX_KEYS,
    KEY_MAX_BYTES,
    InvalidCondition,
    InvalidKey,
    InvalidMetadata,
    InvalidRange,
    KeyTooLong,
    MetadataTooLarge,
    R2Bucket,
    R2Conditional,
    R2Error,
    R2HTTPMetadata,
    R2Object,
    R2ObjectBody,
    R2Range,
    RangeNotSatisfiable,
    TooManyKeys,
    UnsupportedCondition,
    UnsupportedValue,
    md5_etag,
)
from ttai.errors import BindingError

BODY = b"0123456789abcdefghij"  # 20 bytes


@pytest.fixture
def r2(stack: LocalStack) -> R2Bucket:
    return stack.env.R2


@pytest.fixture
def prefix() -> str:
    return f"r2-tests/{uuid.uuid4().hex[:12]}/"


def _stored(raw_s3: Any, stack: LocalStack, key: str) -> bytes | None:
    try:
        body: bytes = raw_s3.get_object(Bucket=stack.environ["TTAI_R2_BUCKET"], Key=key)["Body"].read()
    except raw_s3.exceptions.NoSuchKey:
        return None
    return body


def _body(result: R2ObjectBody | R2Object | None) -> R2ObjectBody:
    assert isinstance(result, R2ObjectBody), f"expected a body, got {type(result).__name__}"
    return result


# ----------------------------------------------------------------- basics


def test_put_returns_the_object_and_get_reads_it_back(r2: R2Bucket, prefix: str) -> None:
    written = r2.put(f"{prefix}a.txt", "héllo", http_metadata=R2HTTPMetadata(content_type="text/plain"))
    assert written is not None
    assert written.key == f"{prefix}a.txt"
    assert written.size == len("héllo".encode())
    assert written.etag == md5_etag("héllo".encode())
    assert written.http_etag == f'"{written.etag}"'
    assert written.checksums.md5 == bytes.fromhex(written.etag)
    assert written.version
    assert written.version != "null"

    read = _body(r2.get(f"{prefix}a.txt"))
    assert read.etag == written.etag
    assert read.version == written.version
    assert read.http_metadata is not None
    assert read.http_metadata.content_type == "text/plain"
    assert abs((read.uploaded - written.uploaded).total_seconds()) <= 1
    assert read.uploaded.tzinfo is not None
    assert read.text() == "héllo"
    assert read.body_used
    with pytest.raises(R2Error, match="already read"):
        read.bytes()


def test_bodies_read_as_json_bytes_or_chunks(r2: R2Bucket, prefix: str) -> None:
    r2.put(f"{prefix}doc.json", b'{"a": [1, 2]}')
    assert _body(r2.get(f"{prefix}doc.json")).json() == {"a": [1, 2]}
    r2.put(f"{prefix}blob", BODY * 1000)
    chunks = list(_body(r2.get(f"{prefix}blob")).iter(chunk_size=4096))
    assert len(chunks) > 1
    assert b"".join(chunks) == BODY * 1000


def test_missing_objects_are_none_and_deleting_them_is_fine(r2: R2Bucket, prefix: str) -> None:
    assert r2.get(f"{prefix}nothing") is None
    assert r2.head(f"{prefix}nothing") is None
    r2.delete(f"{prefix}nothing")
    r2.delete([f"{prefix}nothing", f"{prefix}still-nothing"])


def test_head_gives_metadata_without_the_body(r2: R2Bucket, prefix: str) -> None:
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    http = R2HTTPMetadata(
        content_type="text/csv",
        content_language="en",
        content_disposition='attachment; filename="x.csv"',
        content_encoding="identity",
        cache_control="max-age=60",
        cache_expiry=expiry,
    )
    r2.put(f"{prefix}x.csv", "a,b\n", http_metadata=http, custom_metadata={"source": "test"})
    head = r2.head(f"{prefix}x.csv")
    assert head is not None
    assert not isinstance(head, R2ObjectBody)
    assert head.size == 4
    assert head.http_metadata == http
    assert head.custom_metadata == {"source": "test"}


def test_put_of_files_and_of_none(r2: R2Bucket, prefix: str) -> None:
    assert r2.put(f"{prefix}file", io.BytesIO(BODY)) is not None
    assert _body(r2.get(f"{prefix}file")).bytes() == BODY
    assert r2.put(f"{prefix}text", io.StringIO("Zoë")) is not None
    assert _body(r2.get(f"{prefix}text")).text() == "Zoë"
    empty = r2.put(f"{prefix}empty", None)
    assert empty is not None
    assert empty.size == 0
    assert _body(r2.get(f"{prefix}empty")).bytes() == b""


def test_bad_values_and_keys_are_refused_before_anything_is_written(
    r2: R2Bucket, prefix: str, aws_calls: CallCounter
) -> None:
    with pytest.raises(UnsupportedValue):
        r2.put(f"{prefix}n", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        r2.put("", b"x")
    with pytest.raises(InvalidKey):
        r2.get(None)  # type: ignore[arg-type]
    longest = prefix + "k" * (KEY_MAX_BYTES - len(prefix))
    assert r2.put(longest, b"x") is not None
    with pytest.raises(KeyTooLong):
        r2.put(longest + "k", b"x")
    with pytest.raises(KeyTooLong):
        r2.list(prefix="é" * 513)
    assert r2.head(f"{prefix}n") is None
    assert issubclass(KeyTooLong, BindingError)
    assert aws_calls.by_operation() == {"PutObject": 1, "HeadObject": 1}


def test_delete_takes_one_key_or_up_to_a_thousand(r2: R2Bucket, prefix: str, aws_calls: CallCounter) -> None:
    keys = [f"{prefix}d{i}" for i in range(5)]
    for key in keys:
        r2.put(key, b"x")
    r2.delete(keys[0])
    r2.delete(keys[1:])
    assert all(r2.head(k) is None for k in keys)
    assert aws_calls.calls["DeleteObject"] == 1
    assert aws_calls.calls["DeleteObjects"] == 1
    with pytest.raises(TooManyKeys):
        r2.delete([f"{prefix}{i}" for i in range(DELETE_MAX_KEYS + 1)])


# ----------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("spec", "expected", "returned"),
    [
        (R2Range(offset=5), BODY[5:], R2Range(offset=5, length=15)),
        (R2Range(offset=5, length=3), BODY[5:8], R2Range(offset=5, length=3)),
        (R2Range(length=4), BODY[:4], R2Range(offset=0, length=4)),
        (R2Range(suffix=6), BODY[-6:], R2Range(offset=14, length=6)),
        # More than is there: R2 returns what there is.
        (R2Range(offset=15, length=100), BODY[15:], R2Range(offset=15, length=5)),
        (R2Range(suffix=500), BODY, R2Range(offset=0, length=20)),
        (R2Range(offset=19), BODY[19:], R2Range(offset=19, length=1)),
    ],
)
def test_ranged_reads(r2: R2Bucket, prefix: str, spec: R2Range, expected: bytes, returned: R2Range) -> None:
    r2.put(f"{prefix}r", BODY)
    got = _body(r2.get(f"{prefix}r", range=spec))
    assert got.range == returned
    assert got.size == len(BODY)  # the object's size, not the range's
    assert got.bytes() == expected


@pytest.mark.parametrize("spec", [R2Range(offset=20), R2Range(offset=21, length=2), R2Range(offset=10_000)])
def test_unsatisfiable_ranges_raise_as_r2_does(r2: R2Bucket, prefix: str, spec: R2Range) -> None:
    r2.put(f"{prefix}r", BODY)
    with pytest.raises(RangeNotSatisfiable):
        r2.get(f"{prefix}r", range=spec)


def test_an_offset_into_an_empty_object_is_unsatisfiable(r2: R2Bucket, prefix: str) -> None:
    r2.put(f"{prefix}empty", b"")
    with pytest.raises(RangeNotSatisfiable):
        r2.get(f"{prefix}empty", range=R2Range(offset=0))


@pytest.mark.parametrize(
    "spec",
    [
        R2Range(),
        R2Range(offset=-1),
        R2Range(offset=1, suffix=2),
        R2Range(length=0),
        R2Range(suffix=0),
        R2Range(offset=1.5),  # type: ignore[arg-type]
        R2Range(length=True),
    ],
)
def test_malformed_ranges_are_refused_without_a_call(
    r2: R2Bucket, prefix: str, spec: R2Range, aws_calls: CallCounter
) -> None:
    with pytest.raises(InvalidRange):
        r2.get(f"{prefix}r", range=spec)
    assert aws_calls.total == 0


def test_a_missing_object_with_a_range_is_none(r2: R2Bucket, prefix: str) -> None:
    assert r2.get(f"{prefix}absent", range=R2Range(offset=3)) is None


# --------------------------------------------------------- conditional get


def test_get_only_if_etag(r2: R2Bucket, prefix: str, aws_calls: CallCounter) -> None:
    written = r2.put(f"{prefix}c", BODY)
    assert written is not None
    match = _body(r2.get(f"{prefix}c", only_if=R2Conditional(etag_matches=written.etag)))
    assert match.bytes() == BODY
    quoted = _body(r2.get(f"{prefix}c", only_if=R2Conditional(etag_matches=written.http_etag)))
    quoted.close()

    aws_calls.calls.clear()
    failed = r2.get(f"{prefix}c", only_if=R2Conditional(etag_matches="0" * 32))
    assert type(failed) is R2Object  # the object, without a body
    assert failed.etag == written.etag
    assert failed.size == len(BODY)
    assert aws_calls.by_operation() == {"GetObject": 1, "HeadObject": 1}

    not_modified = r2.get(f"{prefix}c", only_if=R2Conditional(etag_does_not_match=written.etag))
    assert type(not_modified) is R2Object
    other = r2.get(f"{prefix}c", only_if=R2Conditional(etag_does_not_match="0" * 32))
    assert _body(other).bytes() == BODY


def test_get_only_if_uploaded(r2: R2Bucket, prefix: str) -> None:
    r2.put(f"{prefix}c", BODY)
    head = r2.head(f"{prefix}c")
    assert head is not None
    at = head.uploaded
    second = timedelta(seconds=1)
    cases = {
        R2Conditional(uploaded_before=at + second): True,
        R2Conditional(uploaded_before=at): False,  # strictly before
        R2Conditional(uploaded_before=at - second): False,
        R2Conditional(uploaded_after=at - second): True,
        R2Conditional(uploaded_after=at): False,  # strictly after
        R2Conditional(uploaded_after=at + second): False,
        R2Conditional(uploaded_after=at - second, uploaded_before=at + second): True,
        # Every condition must hold: a matching etag does not excuse a failed date (RFC 9110 would let it).
        R2Conditional(etag_matches=head.etag, uploaded_before=at): False,
        R2Conditional(etag_does_not_match="0" * 32, uploaded_after=at): False,
    }
    for condition, served in cases.items():
        got = r2.get(f"{prefix}c", only_if=condition)
        assert got is not None
        assert isinstance(got, R2ObjectBody) is served, condition
        if isinstance(got, R2ObjectBody):
            got.close()


def test_a_failed_condition_on_a_missing_object_is_still_none(r2: R2Bucket, prefix: str) -> None:
    assert r2.get(f"{prefix}gone", only_if=R2Conditional(etag_matches="abc")) is None


def test_malformed_conditions_are_refused(r2: R2Bucket, prefix: str) -> None:
    with pytest.raises(InvalidCondition):
        r2.get(f"{prefix}c", only_if=R2Conditional(uploaded_before=datetime(2026, 1, 1)))  # noqa: DTZ001 - the point
    with pytest.raises(InvalidCondition):
        r2.get(f"{prefix}c", only_if=R2Conditional(etag_matches='""'))
    with pytest.raises(InvalidCondition):
        r2.get(f"{prefix}c", only_if="an etag")  # type: ignore[arg-type]
    with pytest.raises(InvalidCondition):
        r2.get(f"{prefix}c", only_if={"etagMatches": ""})


# --------------------------------------------------------- conditional put


def test_put_only_if_etag_matches(
    r2: R2Bucket, prefix: str, raw_s3: Any, stack: LocalStack, aws_calls: CallCounter
) -> None:
    first = r2.put(f"{prefix}p", b"one")
    assert first is not None
    aws_calls.calls.clear()
    assert r2.put(f"{prefix}p", b"two", only_if=R2Conditional(etag_matches="0" * 32)) is None
    assert aws_calls.by_operation() == {"PutObject": 1}  # S3's If-Match: one call, nothing written
    assert _stored(raw_s3, stack, f"{prefix}p") == b"one"
    second = r2.put(f"{prefix}p", b"two", only_if=R2Conditional(etag_matches=first.etag))
    assert second is not None
    assert second.etag == md5_etag(b"two")
    assert _stored(raw_s3, stack, f"{prefix}p") == b"two"
    # If-Match on a key that does not exist fails too (S3 answers 404; R2 returns null).
    assert r2.put(f"{prefix}absent", b"x", only_if=R2Conditional(etag_matches=first.etag)) is None
    assert _stored(raw_s3, stack, f"{prefix}absent") is None


def test_put_only_if_absent(r2: R2Bucket, prefix: str, raw_s3: Any, stack: LocalStack) -> None:
    create_only = R2Conditional(etag_does_not_match="*")
    assert r2.put(f"{prefix}once", b"first", only_if=create_only) is not None
    assert r2.put(f"{prefix}once", b"second", only_if=create_only) is None
    assert _stored(raw_s3, stack, f"{prefix}once") == b"first"


def test_put_only_if_etag_does_not_match_a_given_etag(
    r2: R2Bucket, prefix: str, raw_s3: Any, stack: LocalStack, aws_calls: CallCounter
) -> None:
    first = r2.put(f"{prefix}n", b"one")
    assert first is not None
    aws_calls.calls.clear()
    assert r2.put(f"{prefix}n", b"two", only_if=R2Conditional(etag_does_not_match=first.etag)) is None
    assert _stored(raw_s3, stack, f"{prefix}n") == b"one"
    assert aws_calls.by_operation() == {"HeadObject": 1}
    # Another etag: the write goes through, pinned by If-Match to the etag the HeadObject saw.
    assert r2.put(f"{prefix}n", b"two", only_if=R2Conditional(etag_does_not_match="0" * 32)) is not None
    assert _stored(raw_s3, stack, f"{prefix}n") == b"two"
    assert r2.put(f"{prefix}new", b"x", only_if=R2Conditional(etag_does_not_match="0" * 32)) is not None


def test_put_cannot_be_conditional_on_the_upload_time(r2: R2Bucket, prefix: str, aws_calls: CallCounter) -> None:
    now = datetime.now(UTC)
    for condition in (R2Conditional(uploaded_before=now), R2Conditional(uploaded_after=now)):
        with pytest.raises(UnsupportedCondition, match="S3 has no conditional write on the upload time"):
            r2.put(f"{prefix}u", b"x", only_if=condition)
    assert aws_calls.total == 0


# ---------------------------------------------------------------- metadata


def test_custom_metadata_keeps_case_and_unicode(r2: R2Bucket, prefix: str) -> None:
    custom = {"Owner": "Zoë", "snake_case": "a b  ", "x.y-z": "100%", "日本": "語", "_5f": "looks escaped"}
    r2.put(f"{prefix}m", b"x", custom_metadata=custom)
    head = r2.head(f"{prefix}m")
    assert head is not None
    assert head.custom_metadata == custom
    got = r2.get(f"{prefix}m")
    assert got is not None
    assert got.custom_metadata == custom


def test_custom_metadata_up_to_two_kilobytes(r2: R2Bucket, prefix: str, aws_calls: CallCounter) -> None:
    exactly = {"k": "v" * (CUSTOM_METADATA_MAX_BYTES - 1)}
    assert r2.put(f"{prefix}ok", b"x", custom_metadata=exactly) is not None
    head = r2.head(f"{prefix}ok")
    assert head is not None
    assert head.custom_metadata == exactly
    aws_calls.calls.clear()
    with pytest.raises(MetadataTooLarge, match="2048"):
        r2.put(f"{prefix}big", b"x", custom_metadata={"k": "v" * CUSTOM_METADATA_MAX_BYTES})
    with pytest.raises(MetadataTooLarge, match="2048"):
        r2.put(f"{prefix}big", b"x", custom_metadata={f"k{i}": "v" * 100 for i in range(20)})
    # Within R2's limit as given, over S3's once stored encoded: refused, and the message says why.
    with pytest.raises(MetadataTooLarge, match="percent-encoded"):
        r2.put(f"{prefix}big", b"x", custom_metadata={"k": "é" * 1000})
    assert aws_calls.total == 0
    assert r2.head(f"{prefix}big") is None


def test_metadata_of_the_wrong_shape_is_refused(r2: R2Bucket, prefix: str) -> None:
    with pytest.raises(InvalidMetadata):
        r2.put(f"{prefix}m", b"x", custom_metadata={"n": 1})  # type: ignore[dict-item]
    with pytest.raises(InvalidMetadata):
        r2.put(f"{prefix}m", b"x", custom_metadata={"": "empty key"})
    with pytest.raises(InvalidMetadata):
        r2.put(f"{prefix}m", b"x", http_metadata=R2HTTPMetadata(content_type="text/plain\r\nX-Evil: 1"))
    with pytest.raises(InvalidMetadata):
        r2.put(f"{prefix}m", b"x", http_metadata=["text/plain"])  # type: ignore[arg-type]
    with pytest.raises(InvalidMetadata):
        r2.put(f"{prefix}m", b"x", {"httpMetadata": {"contentType": "text/plain\nX-Evil: 1"}})
    assert r2.head(f"{prefix}m") is None

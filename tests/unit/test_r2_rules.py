"""R2's rules on the binding's pure functions: ranges, conditions, custom metadata encoding, cursors, table order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import pytest

from ttai.bindings import r2
from ttai.bindings.r2 import (
    InvalidListOptions,
    InvalidRange,
    R2Bucket,
    R2Conditional,
    R2Range,
    TooManyKeys,
    UnsupportedCondition,
)
from ttai.bindings.r2 import bucket as r2_bucket
from ttai.bindings.r2 import metadata as r2_metadata
from ttai.bindings.r2 import objects as r2_objects
from ttai.bindings.r2 import options as r2_options
from ttai.services.storage import StorageService, content_type
from ttai.services.tables import Table, TableError, _parents_first


class _Unreachable:
    """An S3 client every call of which fails the test: what is refused is refused before any request."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"S3 was called ({name})")


@pytest.fixture
def bucket() -> R2Bucket:
    return R2Bucket("unit-bucket", s3=_Unreachable())


@pytest.mark.parametrize(
    ("spec", "header"),
    [
        (R2Range(offset=0), "bytes=0-"),
        (R2Range(offset=10, length=5), "bytes=10-14"),
        (R2Range(length=1), "bytes=0-0"),
        (R2Range(suffix=100), "bytes=-100"),
    ],
)
def test_ranges_become_http_ranges(spec: R2Range, header: str) -> None:
    assert r2_options.range_header(spec) == header


def test_read_conditions_in_whole_seconds() -> None:
    at = datetime(2026, 11, 22, 5, 0, 0, 250_000, tzinfo=UTC)
    headers = r2_options.read_conditions(R2Conditional(etag_matches="abc", uploaded_before=at, uploaded_after=at))
    assert headers["IfMatch"] == '"abc"'
    # "before 05:00:00.25" holds for an upload stamped 05:00:00, the last whole second before it.
    assert headers["IfUnmodifiedSince"] == datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)
    assert headers["IfModifiedSince"] == datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)
    whole = datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)
    assert r2_options.read_conditions(R2Conditional(uploaded_before=whole))["IfUnmodifiedSince"] == whole - timedelta(
        seconds=1
    )
    assert r2_options.read_conditions(R2Conditional(etag_does_not_match="*"))["IfNoneMatch"] == "*"


def test_custom_metadata_round_trips_through_its_stored_form() -> None:
    custom = {"Owner": "Zoë", "a_b": "x y", "k": "100%", "x.y-z": "-", "名前": "値"}
    stored = r2_metadata.encode_custom(custom)
    assert all(name == name.lower() for name in stored)  # what S3 would do to header names changes nothing
    assert all(value.isascii() and " " not in value for value in stored.values())
    assert r2_metadata.decode_custom(stored) == custom
    assert r2_metadata.decode_custom({"plain": "text"}) == {"plain": "text"}


def test_etags_with_and_without_quotes() -> None:
    assert r2_options.unquote_etag('"abc"') == "abc"
    assert r2_options.unquote_etag('W/"abc"') == "abc"
    assert r2_options.quote_etag("abc") == '"abc"'
    assert r2_options.quote_etag('"*"') == "*"
    assert r2_objects.checksums_of("0" * 32).md5 == bytes(16)
    assert r2_objects.checksums_of("abc-2").md5 is None


def test_cursors_are_bound_to_their_list() -> None:
    cursor = r2_bucket.encode_list_cursor("token", "p/", "/")
    assert r2_bucket.decode_list_cursor(cursor, "p/", "/") == "token"
    for prefix, delimiter in (("q/", "/"), ("p/", None)):
        with pytest.raises(InvalidListOptions):
            r2_bucket.decode_list_cursor(cursor, prefix, delimiter)
    with pytest.raises(InvalidListOptions):
        r2_bucket.decode_list_cursor("!!!", None, None)
    # A token that cannot even cross as a query string is refused here, not by botocore's encoder (a 500).
    with pytest.raises(InvalidListOptions):
        r2_bucket.decode_list_cursor(r2_bucket.encode_list_cursor("\ud800", "p/", "/"), "p/", "/")


def test_refusals_happen_before_any_request(bucket: R2Bucket) -> None:
    with pytest.raises(InvalidRange):
        bucket.get("k", range=R2Range(length=0))
    with pytest.raises(UnsupportedCondition):
        bucket.put("k", b"x", only_if=R2Conditional(uploaded_after=datetime.now(UTC)))
    with pytest.raises(TooManyKeys):
        bucket.delete([str(i) for i in range(1001)])
    with pytest.raises(InvalidListOptions):
        bucket.list(limit=1001)
    with pytest.raises(r2.R2Error):
        bucket.presigned_get_url("k", 0)


def test_stream_part_count() -> None:
    assert r2.part_count(0) == 1
    assert r2.part_count(r2.STREAM_PART_BYTES) == 1
    assert r2.part_count(r2.STREAM_PART_BYTES + 1) == 2


@pytest.mark.parametrize("name", ["..", "../x.csv", "a/b.csv", ".x", "x" * 121, "é.csv", "a..csv", ""])
def test_export_names_never_leave_the_exports_folder(name: str, bucket: R2Bucket) -> None:
    from ttai.errors import NotFound  # noqa: PLC0415

    with pytest.raises(NotFound):
        StorageService(bucket, "alice").export_key(name)


def test_export_keys_and_content_types(bucket: R2Bucket) -> None:
    storage = StorageService(bucket, "alice")
    assert storage.export_key("journal-20261122.csv") == "users/alice/exports/journal-20261122.csv"
    assert content_type("a.csv") == "text/csv"
    assert content_type("a.JSON") == "application/json"
    assert content_type("a.bin") == "application/octet-stream"


def _table(name: str, *references: str) -> Table:
    return Table(name, ("id",), ("bigint",), (), references, has_user_id=False)


def test_tables_come_after_the_tables_they_reference() -> None:
    tables: dict[str, Any] = {t.name: t for t in (_table("c", "b"), _table("b", "a"), _table("a"), _table("z"))}
    assert [t.name for t in _parents_first(tables)] == ["a", "z", "b", "c"]
    with pytest.raises(TableError, match="cycle"):
        _parents_first({"x": _table("x", "y"), "y": _table("y", "x")})

"""The option objects Worker code passes, read without AWS: one reader for every binding (camelCase or snake_case,
unknown names refused by name), R2's nested options, KV's read options and read cache, queue messages, D1 sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ttai.bindings import common
from ttai.bindings.d1_errors import D1SessionError
from ttai.bindings.d1_session import (
    FIRST_PRIMARY,
    FIRST_UNCONSTRAINED,
    bookmark_from_horizon,
    check_constraint_or_bookmark,
)
from ttai.bindings.kv import InvalidCacheTtl, InvalidOption
from ttai.bindings.kv_cache import KVReadCache
from ttai.bindings.kv_rules import _read_options
from ttai.bindings.queues import MessageSendRequest, _send_request, body_size
from ttai.bindings.r2 import InvalidOption as R2InvalidOption
from ttai.bindings.r2 import R2Conditional, R2HTTPMetadata, R2Range, UnsupportedOption
from ttai.bindings.r2.worker_options import (
    GET_OPTIONS,
    PUT_OPTIONS,
    as_conditional,
    as_http_metadata,
    as_range,
    call_options,
)

# ------------------------------------------------------------------ the shared reader


@pytest.mark.parametrize(
    ("snake", "camel"),
    [("only_if", "onlyIf"), ("etag_does_not_match", "etagDoesNotMatch"), ("cache_ttl", "cacheTtl"), ("type", "type")],
)
def test_cloudflare_spells_options_in_camel_case(snake: str, camel: str) -> None:
    assert common.camel_case(snake) == camel


def test_every_source_in_either_casing_merges_into_snake_case() -> None:
    names = ("only_if", "range", "cache_ttl")
    chosen = common.worker_options("get", names, {"onlyIf": 1}, {"range": 2, "cache_ttl": None}, {"cacheTtl": 3})
    assert chosen == {"only_if": 1, "range": 2, "cache_ttl": 3}
    assert common.worker_options("get", names, None, {}) == {}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (({"onlyif": 1},), "get: unknown option 'onlyif'; it takes onlyIf, range"),
        (({1: "x"},), "unknown option 1"),
        (({"onlyIf": 1, "only_if": 2},), "onlyIf / only_if given twice"),
        (({"range": 1}, {"range": 2}), "given twice"),
        ((["range"],), "options must be a mapping"),
    ],
)
def test_an_unknown_repeated_or_malformed_option_is_refused_by_name(given: tuple[Any, ...], message: str) -> None:
    with pytest.raises(common.InvalidOption, match=message):
        common.worker_options("get", ("only_if", "range"), *given)


# -------------------------------------------------------------------------------- R2


def test_r2_ranges_from_mappings_or_typed() -> None:
    assert as_range({"offset": 1, "length": 2}) == R2Range(offset=1, length=2)
    assert as_range({"suffix": 3}) == R2Range(suffix=3)
    typed = R2Range(offset=4)
    assert as_range(typed) is typed
    assert as_range(None) is None
    with pytest.raises(R2InvalidOption, match="range: unknown option 'end'"):
        as_range({"offset": 1, "end": 2})


def test_r2_conditions_from_mappings_in_either_casing() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert as_conditional({"etagMatches": "e", "uploadedBefore": at, "secondsGranularity": True}) == R2Conditional(
        etag_matches="e", uploaded_before=at, seconds_granularity=True
    )
    assert as_conditional({"etag_does_not_match": "*"}) == R2Conditional(etag_does_not_match="*")
    with pytest.raises(R2InvalidOption, match="onlyIf: unknown option 'If-Match'"):
        as_conditional({"If-Match": "e"})  # a Headers-shaped object is not R2Conditional's


def test_r2_http_metadata_from_mappings_in_either_casing() -> None:
    assert as_http_metadata({"contentType": "a/b", "cache_control": "no-store"}) == R2HTTPMetadata(
        content_type="a/b", cache_control="no-store"
    )
    with pytest.raises(R2InvalidOption, match="'contentLength'"):
        as_http_metadata({"contentLength": 3})


def test_r2_options_s3_cannot_honour_are_refused_saying_why() -> None:
    assert call_options("put", PUT_OPTIONS, {"storageClass": "Standard", "customMetadata": {"a": "b"}}) == {
        "custom_metadata": {"a": "b"}
    }
    with pytest.raises(UnsupportedOption, match="sha256 is not supported here"):
        call_options("put", PUT_OPTIONS, {"sha256": "00"})
    with pytest.raises(UnsupportedOption, match="storageClass 'InfrequentAccess'"):
        call_options("put", PUT_OPTIONS, {"storage_class": "InfrequentAccess"})
    with pytest.raises(UnsupportedOption, match="ssecKey"):
        call_options("get", GET_OPTIONS, {"ssecKey": "k"})


# -------------------------------------------------------------------------------- KV


@pytest.mark.parametrize(
    ("type_", "options", "extra", "expected"),
    [
        (None, None, {}, ("text", None)),
        ("json", None, {}, ("json", None)),
        ({"type": "json", "cacheTtl": 60}, None, {}, ("json", 60.0)),
        ("arrayBuffer", {"cache_ttl": 90.5}, {}, ("bytes", 90.5)),
        (None, None, {"cacheTtl": 120, "type": "json"}, ("json", 120.0)),
    ],
)
def test_kv_read_options_in_every_form_a_worker_uses(
    type_: Any, options: Any, extra: dict[str, Any], expected: tuple[str, float | None]
) -> None:
    assert _read_options("get", type_, options, None, extra) == expected


@pytest.mark.parametrize("ttl", [59, 59.9, 0, -60, float("inf"), float("nan"), True, "60"])
def test_a_cache_ttl_under_a_minute_or_not_a_number_is_refused(ttl: Any) -> None:
    with pytest.raises(InvalidCacheTtl):
        _read_options("get", None, {"cacheTtl": ttl}, None, {})


def test_kv_read_options_refuse_unknown_names() -> None:
    with pytest.raises(InvalidOption, match="unknown option 'cacheTTL'"):
        _read_options("get", {"cacheTTL": 60}, None, None, {})


def test_the_read_cache_keeps_an_entry_for_its_ttl_and_never_past_the_keys_expiry() -> None:
    cache = KVReadCache(emit=False)
    cache.store("t", "a", "A", now=1000, ttl=60, expires=None, size=1)
    cache.store("t", "b", "B", now=1000, ttl=60, expires=1030, size=1)
    cache.store("t", "gone", None, now=1000, ttl=60, expires=None, size=1)
    assert cache.lookup("t", "a", 1059) == (True, "A")
    assert cache.lookup("t", "a", 1060) == (False, None)
    assert cache.lookup("t", "b", 1029) == (True, "B")
    assert cache.lookup("t", "b", 1030) == (False, None)
    assert cache.lookup("t", "gone", 1001) == (True, None)  # missing, remembered as missing
    assert cache.lookup("other-table", "gone", 1001) == (False, None)
    cache.forget("t", "gone")
    assert cache.lookup("t", "gone", 1001) == (False, None)
    assert (cache.hits, cache.misses) == (3, 4)


def test_the_read_cache_is_bounded_in_entries_and_bytes_oldest_use_first_out() -> None:
    cache = KVReadCache(max_entries=2, max_bytes=100, emit=False)
    cache.store("t", "a", "A", now=0, ttl=60, expires=None, size=10)
    cache.store("t", "b", "B", now=0, ttl=60, expires=None, size=10)
    assert cache.lookup("t", "a", 1)[0]  # a is now the most recently used
    cache.store("t", "c", "C", now=0, ttl=60, expires=None, size=10)
    assert [cache.lookup("t", k, 1)[0] for k in ("a", "b", "c")] == [True, False, True]
    cache.store("t", "big", "X", now=0, ttl=60, expires=None, size=95)
    assert len(cache) == 1
    cache.store("t", "huge", "Y", now=0, ttl=60, expires=None, size=101)  # over the whole budget: not kept
    assert cache.lookup("t", "huge", 1) == (False, None)


# ------------------------------------------------------------------------------ Queues


def test_a_message_a_worker_passes_in_either_casing() -> None:
    assert _send_request({"body": {"a": 1}, "contentType": "text", "delaySeconds": 5}, 0) == MessageSendRequest(
        {"a": 1}, "text", 5
    )
    assert _send_request({"body": None, "content_type": "json"}, 1) == MessageSendRequest(None, "json")
    typed = MessageSendRequest("x", "text")
    assert _send_request(typed, 2) is typed


def test_cloudflare_counts_a_bytes_body_as_its_bytes_and_text_as_utf8() -> None:
    assert body_size(b"\x00" * 30, "bytes") == 30
    assert body_size("é", "text") == 2
    assert body_size({"k": "é"}, "json") == len('{"k":"é"}'.encode())


# ------------------------------------------------------------------------------- D1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, FIRST_UNCONSTRAINED),
        (FIRST_PRIMARY, FIRST_PRIMARY),
        (FIRST_UNCONSTRAINED, FIRST_UNCONSTRAINED),
        ("000000000000002a-aurora", "000000000000002a-aurora"),
    ],
)
def test_a_session_starts_from_a_constraint_or_a_bookmark(given: str | None, expected: str) -> None:
    assert check_constraint_or_bookmark(given) == expected


@pytest.mark.parametrize("given", ["first-replica", "", "tab\there", "é", "x" * 1025, b"bookmark"])
def test_what_is_neither_a_constraint_nor_a_bookmark_is_refused(given: object) -> None:
    with pytest.raises(D1SessionError):
        check_constraint_or_bookmark(given)


def test_bookmarks_sort_as_their_horizons_do() -> None:
    horizons = [9, 10, 255, 256, 2**40, 2**63]
    bookmarks = [bookmark_from_horizon(h) for h in horizons]
    assert sorted(bookmarks) == bookmarks
    assert len({len(b) for b in bookmarks[:-1]}) == 1

"""R2Bucket (moto) called as Worker code calls R2: option objects as plain mappings, camelCase or snake_case."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.r2 import (
    InvalidOption,
    R2Bucket,
    R2Error,
    R2Object,
    R2ObjectBody,
    R2Range,
    UnsupportedOption,
)
from ttai.errors import BindingError

BODY = b"0123456789abcdefghij"


@pytest.fixture
def r2(stack: LocalStack) -> R2Bucket:
    return stack.env.R2


@pytest.fixture
def prefix() -> str:
    return f"r2-worker/{uuid.uuid4().hex[:12]}/"


def _body(result: R2ObjectBody | R2Object | None) -> bytes:
    assert isinstance(result, R2ObjectBody), f"expected a body, got {type(result).__name__}"
    return result.bytes()


def test_put_takes_the_options_object_a_worker_passes(r2: R2Bucket, prefix: str) -> None:
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    r2.put(
        f"{prefix}camel",
        "hello",
        {
            "httpMetadata": {"contentType": "text/plain", "cacheControl": "max-age=60", "cacheExpiry": expiry},
            "customMetadata": {"uploadedBy": "worker", "content_type": "kept as given"},
            "storageClass": "Standard",
        },
    )
    r2.put(f"{prefix}snake", "hello", http_metadata={"content_type": "text/csv", "content_language": "en"})
    r2.put(f"{prefix}keywords", "hello", httpMetadata={"contentDisposition": "inline"}, customMetadata={"k": "v"})

    camel, snake, keywords = (r2.head(f"{prefix}{name}") for name in ("camel", "snake", "keywords"))
    assert camel is not None
    assert camel.http_metadata is not None
    assert (camel.http_metadata.content_type, camel.http_metadata.cache_control) == ("text/plain", "max-age=60")
    assert camel.http_metadata.cache_expiry == expiry
    # Custom metadata keys are the caller's data: never renamed from one casing to the other.
    assert camel.custom_metadata == {"uploadedBy": "worker", "content_type": "kept as given"}
    assert snake is not None
    assert snake.http_metadata is not None
    assert (snake.http_metadata.content_type, snake.http_metadata.content_language) == ("text/csv", "en")
    assert keywords is not None
    assert keywords.http_metadata is not None
    assert keywords.http_metadata.content_disposition == "inline"
    assert keywords.custom_metadata == {"k": "v"}


def test_conditional_put_with_an_only_if_mapping(r2: R2Bucket, prefix: str) -> None:
    key = f"{prefix}c"
    first = r2.put(key, "one", {"onlyIf": {"etagDoesNotMatch": "*"}})
    assert first is not None
    assert r2.put(key, "two", onlyIf={"etagDoesNotMatch": "*"}) is None  # it exists now: nothing written
    assert r2.put(key, "two", only_if={"etag_matches": "0" * 32}) is None
    second = r2.put(key, "two", {"onlyIf": {"etagMatches": first.http_etag}})
    assert second is not None
    assert _body(r2.get(key)) == b"two"


def test_ranged_and_conditional_reads_with_mappings(r2: R2Bucket, prefix: str) -> None:
    key = f"{prefix}r"
    written = r2.put(key, BODY)
    assert written is not None

    ranged = r2.get(key, {"range": {"offset": 2, "length": 3}})
    assert _body(ranged) == b"234"
    assert isinstance(ranged, R2ObjectBody)
    assert ranged.range == R2Range(offset=2, length=3)
    assert _body(r2.get(key, range={"suffix": 4})) == b"ghij"
    assert _body(r2.get(key, range={"length": 2})) == b"01"
    assert _body(r2.get(key, onlyIf={"etagMatches": written.etag}, range=R2Range(offset=18))) == b"ij"

    refused = r2.get(key, {"onlyIf": {"etag_does_not_match": written.etag}})
    assert isinstance(refused, R2Object)
    assert not isinstance(refused, R2ObjectBody)
    later = written.uploaded + timedelta(seconds=5)
    assert _body(r2.get(key, {"onlyIf": {"uploadedBefore": later}})) == BODY
    after = r2.get(key, {"onlyIf": {"uploadedAfter": later, "secondsGranularity": True}})
    assert after is not None
    assert not isinstance(after, R2ObjectBody)


def test_list_and_multipart_take_worker_options(r2: R2Bucket, prefix: str) -> None:
    for name in ("a", "b", "c"):
        r2.put(f"{prefix}{name}", name, customMetadata={"name": name})

    page = r2.list({"prefix": prefix, "limit": 2, "include": ["customMetadata"]})
    assert [o.key for o in page.objects] == [f"{prefix}a", f"{prefix}b"]
    assert [o.custom_metadata for o in page.objects] == [{"name": "a"}, {"name": "b"}]
    rest = r2.list(prefix=prefix, cursor=page.cursor, include=["custom_metadata"])
    assert [o.key for o in rest.objects] == [f"{prefix}c"]
    assert [o.key for o in r2.list(prefix=prefix, startAfter=f"{prefix}a").objects] == [f"{prefix}b", f"{prefix}c"]

    upload = r2.create_multipart_upload(
        f"{prefix}parts", {"httpMetadata": {"contentType": "text/csv"}, "customMetadata": {"rows": "1"}}
    )
    done = upload.complete([upload.upload_part(1, b"a,b\n")])
    assert done is not None
    assert done.http_metadata is not None
    assert (done.http_metadata.content_type, done.custom_metadata) == ("text/csv", {"rows": "1"})


Call = Callable[[R2Bucket, str], object]


@pytest.mark.parametrize(
    ("call", "error", "named"),
    [
        (lambda r2, k: r2.get(k, {"onlyif": {"etagMatches": "x"}}), InvalidOption, "unknown option 'onlyif'"),
        (lambda r2, k: r2.get(k, range={"start": 1}), InvalidOption, "range: unknown option 'start'"),
        (lambda r2, k: r2.get(k, onlyIf={"etagMatch": "x"}), InvalidOption, "onlyIf: unknown option 'etagMatch'"),
        (lambda r2, k: r2.get(k, {"range": {"offset": 1}}, range={"offset": 2}), InvalidOption, "given twice"),
        (lambda r2, k: r2.get(k, {"ssecKey": "k" * 32}), UnsupportedOption, "ssecKey is not supported"),
        (lambda r2, k: r2.put(k, "v", {"httpMetadata": {"contentTyp": "x"}}), InvalidOption, "'contentTyp'"),
        (lambda r2, k: r2.put(k, "v", {"md5": "00" * 16}), UnsupportedOption, "md5 is not supported"),
        (lambda r2, k: r2.put(k, "v", storageClass="InfrequentAccess"), UnsupportedOption, "lifecycle rules"),
        (lambda r2, k: r2.put(k, "v", {"expires": 60}), InvalidOption, "unknown option 'expires'"),
        (lambda r2, k: r2.put(k, "v", {"onlyIf": {}}, only_if={"etagMatches": "x"}), InvalidOption, "given twice"),
        (lambda r2, k: r2.list({"prefix": k, "max_keys": 5}), InvalidOption, "unknown option 'max_keys'"),
        (lambda r2, k: r2.create_multipart_upload(k, {"tags": {}}), InvalidOption, "unknown option 'tags'"),
    ],
)
def test_an_unknown_option_is_refused_by_name_before_any_call(
    r2: R2Bucket, prefix: str, aws_calls: CallCounter, call: Call, error: type[R2Error], named: str
) -> None:
    with pytest.raises(error, match=named) as refused:
        call(r2, f"{prefix}o")
    assert isinstance(refused.value, BindingError)
    assert aws_calls.total == 0

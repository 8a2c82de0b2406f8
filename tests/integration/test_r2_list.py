"""R2Bucket.list on S3 (moto): prefixes, delimiters, include (and what it costs), cursors over 2,500 objects."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.r2 import LIST_LIMIT_MAX, InvalidListOptions, R2Bucket, R2HTTPMetadata, UnknownListCursor
from ttai.bindings.r2 import bucket as r2_bucket

MANY = 2500


@pytest.fixture
def r2(stack: LocalStack) -> R2Bucket:
    return stack.env.R2


@pytest.fixture
def prefix() -> str:
    return f"r2-list/{uuid.uuid4().hex[:12]}/"


@pytest.fixture(scope="module")
def many(stack: LocalStack) -> tuple[str, list[str]]:
    """2,500 small objects under one prefix, written 16 at a time by a client the counters do not see."""
    raw = stack.client("s3")
    bucket = stack.environ["TTAI_R2_BUCKET"]
    prefix = f"r2-many/{uuid.uuid4().hex[:12]}/"
    keys = [f"{prefix}{i:05d}" for i in range(MANY)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: raw.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))
    return prefix, keys


def _all_keys(r2: R2Bucket, **options: Any) -> tuple[list[str], int]:
    keys: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = r2.list(cursor=cursor, **options)
        pages += 1
        keys += [o.key for o in page.objects]
        if not page.truncated:
            assert page.cursor is None
            return keys, pages
        assert page.cursor
        cursor = page.cursor


def test_cursor_paging_over_2500_objects(r2: R2Bucket, many: tuple[str, list[str]], aws_calls: CallCounter) -> None:
    prefix, keys = many
    listed, pages = _all_keys(r2, prefix=prefix)
    assert listed == keys  # every object once, in key order
    assert pages == 3  # 1000 + 1000 + 500
    assert aws_calls.by_operation() == {"ListObjectsV2": 3}


def test_cursor_paging_with_a_small_limit(r2: R2Bucket, many: tuple[str, list[str]]) -> None:
    prefix, keys = many
    first = r2.list(prefix=prefix, limit=7)
    assert [o.key for o in first.objects] == keys[:7]
    assert first.truncated
    assert first.cursor
    second = r2.list(prefix=prefix, limit=7, cursor=first.cursor)
    assert [o.key for o in second.objects] == keys[7:14]
    listed, pages = _all_keys(r2, prefix=f"{prefix}000", limit=30)  # 00000..00099
    assert listed == keys[:100]
    assert pages == 4


def test_a_cursor_holding_a_token_s3_refuses_is_an_invalid_list_option(r2: R2Bucket, prefix: str) -> None:
    # S3 answers a continuation token it did not issue with 400 InvalidArgument ("The continuation token provided is
    # incorrect"). moto does so for an empty token only (an unknown non-empty one makes it fail with a 500).
    r2.put(f"{prefix}a", b"a")
    forged = r2_bucket.encode_list_cursor("", prefix, None)
    with pytest.raises(UnknownListCursor) as refused:
        r2.list(prefix=prefix, cursor=forged)
    assert isinstance(refused.value, InvalidListOptions)
    assert "continuation token" not in str(refused.value)  # S3's own text stays behind the binding


def test_start_after(r2: R2Bucket, many: tuple[str, list[str]]) -> None:
    prefix, keys = many
    page = r2.list(prefix=prefix, start_after=keys[2497])
    assert [o.key for o in page.objects] == keys[2498:]
    assert not page.truncated


def test_listed_objects_carry_size_etag_and_time(r2: R2Bucket, prefix: str) -> None:
    written = r2.put(f"{prefix}a", b"abc")
    assert written is not None
    (listed,) = r2.list(prefix=prefix).objects
    assert (listed.key, listed.size, listed.etag) == (f"{prefix}a", 3, written.etag)
    assert listed.uploaded.tzinfo is not None
    assert listed.http_metadata is None
    assert listed.custom_metadata is None


def test_delimiter_rolls_up_prefixes(r2: R2Bucket, prefix: str) -> None:
    for key in ("a/1", "a/2", "b/c/3", "top1", "top2"):
        r2.put(f"{prefix}{key}", b"x")
    page = r2.list(prefix=prefix, delimiter="/")
    assert [o.key for o in page.objects] == [f"{prefix}top1", f"{prefix}top2"]
    assert page.delimited_prefixes == [f"{prefix}a/", f"{prefix}b/"]
    assert not page.truncated
    deeper = r2.list(prefix=f"{prefix}b/", delimiter="/")
    assert deeper.objects == []
    assert deeper.delimited_prefixes == [f"{prefix}b/c/"]
    # Objects and rolled-up prefixes share the limit, and the cursor carries on from both.
    first = r2.list(prefix=prefix, delimiter="/", limit=3)
    assert len(first.objects) + len(first.delimited_prefixes) == 3
    assert first.truncated
    rest = r2.list(prefix=prefix, delimiter="/", limit=3, cursor=first.cursor)
    seen = {o.key for o in (*first.objects, *rest.objects)} | {*first.delimited_prefixes, *rest.delimited_prefixes}
    assert seen == {f"{prefix}a/", f"{prefix}b/", f"{prefix}top1", f"{prefix}top2"}


def test_include_costs_one_head_per_object(r2: R2Bucket, prefix: str, aws_calls: CallCounter) -> None:
    for i in range(12):
        r2.put(
            f"{prefix}{i:02d}",
            b"x",
            http_metadata=R2HTTPMetadata(content_type="text/plain"),
            custom_metadata={"Index": str(i)},
        )
    aws_calls.calls.clear()
    page = r2.list(prefix=prefix, include=["customMetadata", "httpMetadata"])
    assert [o.custom_metadata for o in page.objects] == [{"Index": str(i)} for i in range(12)]
    assert all(o.http_metadata == R2HTTPMetadata(content_type="text/plain") for o in page.objects)
    assert all(o.version != o.etag for o in page.objects)  # the HeadObject gives the version id too
    assert aws_calls.by_operation() == {"ListObjectsV2": 1, "HeadObject": 12}

    only_custom = r2.list(prefix=prefix, include=["customMetadata"], limit=2)
    assert [o.custom_metadata for o in only_custom.objects] == [{"Index": "0"}, {"Index": "1"}]
    assert all(o.http_metadata is None for o in only_custom.objects)


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 0},
        {"limit": LIST_LIMIT_MAX + 1},
        {"limit": True},
        {"limit": "10"},
        {"include": ["everything"]},
        {"include": "customMetadata"},
        {"delimiter": ""},
        {"cursor": "not-a-cursor"},
    ],
)
def test_bad_list_options_are_refused_without_a_call(
    r2: R2Bucket, prefix: str, options: dict[str, Any], aws_calls: CallCounter
) -> None:
    with pytest.raises(InvalidListOptions):
        r2.list(prefix=prefix, **options)
    assert aws_calls.total == 0


def test_a_cursor_only_resumes_the_list_it_came_from(r2: R2Bucket, many: tuple[str, list[str]]) -> None:
    prefix, _ = many
    page = r2.list(prefix=prefix, limit=5)
    assert page.cursor
    with pytest.raises(InvalidListOptions, match="different prefix"):
        r2.list(prefix=f"{prefix}001", cursor=page.cursor)
    with pytest.raises(InvalidListOptions, match="different prefix or delimiter"):
        r2.list(prefix=prefix, delimiter="/", cursor=page.cursor)

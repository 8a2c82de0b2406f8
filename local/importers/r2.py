"""``ttai import r2``: objects from any S3-compatible bucket (R2's own S3 API, in practice) into our R2 binding's
bucket, with their HTTP and custom metadata, several at a time, each streamed (never held whole).

Both listings are read in key order and walked together, so the import holds a few objects' descriptions, not the
bucket's. For each source object the source and target are described (one HeadObject each); an object whose target
already has the same size, the same content and the same metadata is skipped. Same content: the same etag (an MD5
for a single-part upload on either side), or, where the copy's etag differs (a multipart source, or one over the
8 MiB the binding sends in one request), the source etag the copy recorded in its ``ttai-source-etag`` S3 tag (not
custom metadata: R2's API never shows it). A copy whose source etag is an MD5 is checked against it as it streams,
and a copy that does not match is never completed. Writes go through the binding's ``put``, so R2's metadata rules
apply and a refusal is reported with the binding's reason.

The verification compares, per prefix, every source object with its copy (size, content, metadata); objects the
target holds beyond the source's are counted and named, not a mismatch (the bucket also holds our own objects).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.exceptions import ClientError

from local.importers.progress import Progress
from local.importers.verify import Comparison, Refusal, Report, entry_digest
from ttai.bindings.r2 import R2Bucket, R2Error, R2HTTPMetadata, R2Object

WORKERS = 4  # each copy buffers up to one 8 MiB part: four at a time stay well inside the memory budget
SOURCE_ETAG_TAG = "ttai-source-etag"
STREAM_CHUNK = 1024 * 1024
_MD5 = re.compile(r"[0-9a-f]{32}")
_HTTP = {
    "content_type": "ContentType",
    "content_language": "ContentLanguage",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "cache_control": "CacheControl",
}


class CopyMismatch(Exception):
    """The bytes read from the source do not match its size or MD5 etag: the copy is abandoned."""


@dataclass(frozen=True, slots=True)
class Described:
    """An object as both sides are compared by."""

    size: int
    etag: str
    http: R2HTTPMetadata
    custom: dict[str, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    source: Described | None  # None: gone from the source since it was listed
    target: Described | None
    content: str | None  # the source etag the target's content is known to match, else None
    copied: bool
    refused: str | None = None


def import_r2(bucket: R2Bucket, source: Any, source_bucket: str, *, prefix: str = "", workers: int = WORKERS) -> Report:
    """Copy ``source_bucket`` (an S3 client ``source``) under ``prefix`` into ``bucket``, then verify."""
    started = time.monotonic()
    where = f"s3://{source_bucket}/{prefix}"
    report = Report(title=f"R2 import of {where}", source=where, target=f"bucket {bucket.bucket}")
    comparison = Comparison("prefix", prefix or "(all)", where, extra_is_mismatch=False)
    report.comparisons.append(comparison)
    for what in ("copied", "unchanged"):
        comparison.count_written(what, 0)
    in_flight: dict[Future[Outcome], str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool, Progress("objects", unit="objects") as bar:
        for source_key, target_key in _paired(
            _source_keys(source, source_bucket, prefix), _target_keys(bucket, prefix)
        ):
            if source_key is None:
                assert target_key is not None
                comparison.extra.add(target_key)
                continue
            comparison.read += 1
            in_flight[pool.submit(_sync, bucket, source, source_bucket, source_key)] = source_key
            if len(in_flight) >= 4 * workers:
                _collect(in_flight, comparison, bar)
        while in_flight:
            _collect(in_flight, comparison, bar)
    report.seconds = time.monotonic() - started
    return report


def _source_keys(source: Any, source_bucket: str, prefix: str) -> Iterator[str]:
    for page in source.get_paginator("list_objects_v2").paginate(Bucket=source_bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield str(item["Key"])


def _target_keys(bucket: R2Bucket, prefix: str) -> Iterator[str]:
    cursor = None
    while True:
        page = bucket.list(prefix=prefix or None, cursor=cursor)
        for obj in page.objects:
            yield obj.key
        if not page.truncated:
            return
        cursor = page.cursor


def _paired(sources: Iterator[str], targets: Iterator[str]) -> Iterator[tuple[str | None, str | None]]:
    """Two key-ordered listings walked together (S3 and R2 both list in UTF-8 byte order)."""
    source, target = next(sources, None), next(targets, None)
    while source is not None or target is not None:
        if target is None or (source is not None and source.encode() < target.encode()):
            yield source, None
            source = next(sources, None)
        elif source is None or target.encode() < source.encode():
            yield None, target
            target = next(targets, None)
        else:
            yield source, target
            source, target = next(sources, None), next(targets, None)


def _collect(in_flight: dict[Future[Outcome], str], comparison: Comparison, bar: Progress) -> None:
    done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
    for future in done:
        in_flight.pop(future)
        bar.advance()
        outcome = future.result()
        _account(comparison, outcome)


def _account(comparison: Comparison, outcome: Outcome) -> None:
    key = outcome.key
    if outcome.source is None:
        comparison.skip("deleted from the source while the import ran")
        return
    if outcome.refused is not None:
        comparison.refused.add(Refusal(key, outcome.refused))
        return
    comparison.count_written("copied" if outcome.copied else "unchanged")
    expected = _canonical(outcome.source, outcome.source.etag)
    comparison.source.add(key, entry_digest(key, expected))
    if outcome.target is None:
        comparison.missing.add(key)
        return
    found = _canonical(outcome.target, outcome.content or f"target etag {outcome.target.etag}")
    comparison.target.add(key, entry_digest(key, found))
    if found != expected:
        comparison.different.add(key)


# ------------------------------------------------------------------------------------------ one object


def _sync(bucket: R2Bucket, source: Any, source_bucket: str, key: str) -> Outcome:
    theirs = _describe_source(source, source_bucket, key)
    if theirs is None:
        return Outcome(key, None, None, None, copied=False)
    ours = _describe_target(bucket, key)
    content = _content(bucket, key, theirs, ours)
    if ours is not None and content is not None and _same_metadata(theirs, ours):
        return Outcome(key, theirs, ours, content, copied=False)
    try:
        _copy(bucket, source, source_bucket, key, theirs)
    except (R2Error, CopyMismatch) as exc:
        return Outcome(key, theirs, ours, content, copied=False, refused=str(exc))
    except ClientError as exc:
        if int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) != 412:
            raise
        reason = "the source object changed while it was copied (its etag moved): run the import again"
        return Outcome(key, theirs, ours, content, copied=False, refused=reason)
    ours = _describe_target(bucket, key)
    return Outcome(key, theirs, ours, _content(bucket, key, theirs, ours), copied=True)


def _describe_source(source: Any, source_bucket: str, key: str) -> Described | None:
    try:
        head = source.head_object(Bucket=source_bucket, Key=key)
    except ClientError as exc:
        if int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) == 404:
            return None
        raise
    return Described(
        size=int(head["ContentLength"]),
        etag=str(head["ETag"]).strip('"'),
        http=_http_metadata(head),
        custom=dict(head.get("Metadata", {})),
    )


def _describe_target(bucket: R2Bucket, key: str) -> Described | None:
    found: R2Object | None = bucket.head(key)
    if found is None:
        return None
    return Described(
        size=found.size,
        etag=found.etag,
        http=found.http_metadata or R2HTTPMetadata(),
        custom=dict(found.custom_metadata or {}),
    )


def _http_metadata(head: dict[str, Any]) -> R2HTTPMetadata:
    values: dict[str, Any] = {attr: head[name] for attr, name in _HTTP.items() if head.get(name)}
    expires = head.get("ExpiresString") or head.get("Expires")
    if isinstance(expires, str):
        try:
            expires = parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            expires = None  # S3 keeps an unparseable Expires as text; R2's cacheExpiry is a date or nothing
    if isinstance(expires, datetime):
        values["cache_expiry"] = expires if expires.utcoffset() is not None else expires.replace(tzinfo=UTC)
    return R2HTTPMetadata(**values)


def _content(bucket: R2Bucket, key: str, theirs: Described, ours: Described | None) -> str | None:
    """The source etag when the target's bytes are known to be the source's, else None."""
    if ours is None or ours.size != theirs.size:
        return None
    if ours.etag == theirs.etag:
        return theirs.etag
    try:
        tags = bucket.s3.get_object_tagging(Bucket=bucket.bucket, Key=key)["TagSet"]
    except ClientError:
        return None
    recorded = next((t["Value"] for t in tags if t["Key"] == SOURCE_ETAG_TAG), None)
    return theirs.etag if recorded == theirs.etag else None


def _same_metadata(theirs: Described, ours: Described) -> bool:
    return _http_json(theirs.http) == _http_json(ours.http) and theirs.custom == ours.custom


def _copy(bucket: R2Bucket, source: Any, source_bucket: str, key: str, theirs: Described) -> None:
    response = source.get_object(Bucket=source_bucket, Key=key, IfMatch=f'"{theirs.etag}"')
    bucket.put(
        key,
        _checked_stream(response["Body"], theirs),
        http_metadata=theirs.http,
        custom_metadata=theirs.custom,
        tags={SOURCE_ETAG_TAG: theirs.etag},
    )


def _checked_stream(body: Any, theirs: Described) -> Iterator[bytes]:
    """The body in chunks; raises at the end, before the binding completes the upload, if the bytes are not the
    source's (a wrong size, or an MD5 other than its single-part etag)."""
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        for chunk in body.iter_chunks(STREAM_CHUNK):
            md5.update(chunk)
            size += len(chunk)
            yield chunk
    finally:
        body.close()
    if size != theirs.size:
        raise CopyMismatch(f"read {size} bytes of an object of {theirs.size}: not copied")
    if _MD5.fullmatch(theirs.etag) and md5.hexdigest() != theirs.etag:
        raise CopyMismatch(f"the bytes read have MD5 {md5.hexdigest()}, the source's etag is {theirs.etag}: not copied")


# ------------------------------------------------------------------------------------------ comparing


def _http_json(http: R2HTTPMetadata) -> dict[str, str]:
    values = {attr: getattr(http, attr) for attr in _HTTP if getattr(http, attr)}
    if http.cache_expiry is not None:
        values["cache_expiry"] = http.cache_expiry.astimezone(UTC).isoformat()
    return values


def _canonical(described: Described, content: str) -> str:
    return json.dumps(
        [described.size, content, _http_json(described.http), sorted(described.custom.items())], ensure_ascii=False
    )

"""Cloudflare R2's Worker API on S3: ``get`` / ``head`` / ``put`` / ``delete`` / ``list`` and multipart uploads.

Where S3 and R2 differ the binding translates, and where S3 cannot do what R2 does it raises and says so:
- Conditions (``only_if``) on reads go to S3 as If-Match / If-None-Match / If-(Un)Modified-Since; a failed one
  gives an ``R2Object`` without a body, as R2 does (one HeadObject more, on the failure path only). S3 keeps upload
  times to the second, so ``uploaded`` and the ``uploaded_*`` conditions have second precision.
- Conditions on writes use S3's conditional writes: ``etag_matches`` is If-Match, ``etag_does_not_match="*"`` is
  If-None-Match. ``etag_does_not_match`` with an etag is a HeadObject and then a write pinned to the etag it saw
  (If-Match, or If-None-Match when there was no object), so it is still atomic. S3 has no conditional write on the
  upload time: ``uploaded_before`` / ``uploaded_after`` on ``put`` raise ``UnsupportedCondition``.
- ``list(include=...)``: ListObjectsV2 returns no metadata, so each listed object costs one HeadObject (run a few
  at a time). Without ``include`` a page is one ListObjectsV2 call.
- Custom metadata keys keep their case and may hold any Unicode: S3 lowercases header names and takes ASCII, so
  key characters outside ``[a-z0-9.-]`` are stored as ``_`` and hex digits, and value characters outside printable
  ASCII percent-encoded; both are decoded on read. R2's 2,048-byte limit applies to the metadata as given, S3's
  2 KB to the stored form: an encoded form over it raises ``MetadataTooLarge`` saying so.
- An object stored without a content type reads back with S3's default, ``binary/octet-stream``.
- ``version`` is S3's version id (the bucket is versioned); objects listed without ``include`` carry the etag.
- An unsatisfiable range (an offset at or past the end, a range of an empty object) raises ``RangeNotSatisfiable``,
  as R2's binding throws (error 10039). A range S3 cannot express (zero bytes long) raises ``InvalidRange``.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import IO, Any, Literal
from urllib.parse import quote, unquote, urlencode

from botocore.exceptions import ClientError

from ttai.errors import BindingError

KEY_MAX_BYTES = 1024
CUSTOM_METADATA_MAX_BYTES = 2048
S3_METADATA_MAX_BYTES = 2048
LIST_LIMIT_MAX = 1000
DELETE_MAX_KEYS = 1000
TAGS_MAX = 10  # S3 object tags per object
PUT_MAX_BYTES = 5 * 1024**3 - 5 * 1024**2  # R2's single-request upload limit (5 GiB less 5 MiB)
PART_MIN_BYTES = 5 * 1024**2  # every part but the last, on S3 and R2
PART_MAX_BYTES = 5 * 1024**3
PART_NUMBER_MAX = 10_000
PRESIGN_MAX_SECONDS = 7 * 24 * 3600  # SigV4's limit
STREAM_PART_BYTES = 8 * 1024**2  # what put() of a stream buffers before it starts a multipart upload
INCLUDE_FIELDS = ("httpMetadata", "customMetadata")
_HEAD_WORKERS = 8  # HeadObject calls in flight for list(include=...)
_KEY_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_NAME_ESCAPE = re.compile(r"_([0-9a-f]{2})")
_VALUE_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")  # spaces escaped: HTTP trims them
_HTTP_FIELDS = {
    "content_type": "ContentType",
    "content_language": "ContentLanguage",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "cache_control": "CacheControl",
    "cache_expiry": "Expires",
}

Include = Literal["httpMetadata", "customMetadata"]
Value = str | bytes | bytearray | memoryview | None
Chunk = str | bytes | bytearray | memoryview
Body = Value | Iterable[Chunk] | IO[bytes]  # text, bytes, a stream of chunks, or a binary file


class R2Error(BindingError):
    """Base of the R2 binding's errors."""


class InvalidKey(R2Error):
    """An empty key, or one that is not text."""


class KeyTooLong(InvalidKey):
    """A key (or list prefix) over 1,024 UTF-8 bytes."""


class InvalidMetadata(R2Error):
    """HTTP or custom metadata of the wrong shape (custom metadata maps strings to strings)."""


class MetadataTooLarge(InvalidMetadata):
    """Custom metadata over 2,048 bytes, or whose stored (encoded) form is over S3's 2 KB."""


class InvalidRange(R2Error):
    """A range that is not one of {offset, length?}, {offset?, length}, {suffix}, or one S3 cannot express."""


class RangeNotSatisfiable(R2Error):
    """The range starts at or past the end of the object (R2's error 10039, HTTP 416)."""


class InvalidCondition(R2Error):
    """An ``only_if`` of the wrong shape."""


class UnsupportedCondition(R2Error):
    """A condition R2 evaluates that S3 cannot evaluate atomically for this operation."""


class InvalidListOptions(R2Error):
    """A limit outside 1..1000, an unknown include, or a cursor this binding did not issue for these options."""


class UnknownListCursor(InvalidListOptions):
    """A list cursor whose continuation token S3 refused: S3 did not issue it (InvalidArgument, "The continuation
    token provided is incorrect")."""


class TooManyKeys(R2Error):
    """A delete of more than 1,000 keys."""


class ValueTooLarge(R2Error):
    """A value over the size one upload or one part may have."""


class UnsupportedValue(R2Error):
    """A value the binding cannot store (not text, bytes, a binary file or an iterable of bytes)."""


class InvalidPart(R2Error):
    """A part number outside 1..10000, a part below 5 MiB that is not the last, or parts S3 does not know."""


class NoSuchUpload(R2Error):
    """The multipart upload was completed, aborted, or never existed."""


# ------------------------------------------------------------------ values


@dataclass(frozen=True, slots=True)
class R2HTTPMetadata:
    content_type: str | None = None
    content_language: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    cache_control: str | None = None
    cache_expiry: datetime | None = None


@dataclass(frozen=True, slots=True)
class R2Range:
    """Bytes of an object: ``offset`` (+ ``length``), ``length`` from the start, or the last ``suffix`` bytes."""

    offset: int | None = None
    length: int | None = None
    suffix: int | None = None


@dataclass(frozen=True, slots=True)
class R2Conditional:
    """R2's ``onlyIf``: every condition given must hold. Etags with or without quotes."""

    etag_matches: str | None = None
    etag_does_not_match: str | None = None
    uploaded_before: datetime | None = None
    uploaded_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class R2Checksums:
    """What S3 gives without extra work: the MD5 of a single-part upload (its etag). Multipart objects: None."""

    md5: bytes | None = None


@dataclass(frozen=True, slots=True)
class R2Object:
    key: str
    version: str
    size: int
    etag: str  # without quotes
    uploaded: datetime
    http_metadata: R2HTTPMetadata | None = None  # None: not asked for (list without include)
    custom_metadata: dict[str, str] | None = None
    range: R2Range | None = None
    checksums: R2Checksums = field(default_factory=R2Checksums)
    storage_class: str = "Standard"

    @property
    def http_etag(self) -> str:
        """The etag as HTTP carries it, in quotes."""
        return f'"{self.etag}"'


class R2ObjectBody(R2Object):
    """An object with its body: read it once, whole (``bytes`` / ``text`` / ``json``) or in chunks (``iter``)."""

    __slots__ = ("_stream", "body_used")
    _stream: Any
    body_used: bool

    def __init__(self, obj: R2Object, stream: Any) -> None:
        for name in R2Object.__dataclass_fields__:
            object.__setattr__(self, name, getattr(obj, name))
        object.__setattr__(self, "_stream", stream)
        object.__setattr__(self, "body_used", False)

    def _take(self) -> Any:
        if self.body_used:
            raise R2Error(f"the body of {self.key!r} was already read")
        object.__setattr__(self, "body_used", True)
        return self._stream

    def bytes(self) -> builtins.bytes:
        stream = self._take()
        try:
            data: builtins.bytes = stream.read()
        finally:
            stream.close()
        return data

    def text(self) -> str:
        return self.bytes().decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.bytes())

    def iter(self, chunk_size: int = 64 * 1024) -> Iterator[builtins.bytes]:
        """The body in chunks, without holding it whole."""
        stream = self._take()
        try:
            yield from stream.iter_chunks(chunk_size)
        finally:
            stream.close()

    def close(self) -> None:
        """Release the connection without reading the body."""
        if not self.body_used:
            self._take().close()


@dataclass(frozen=True, slots=True)
class R2Objects:
    objects: list[R2Object]
    delimited_prefixes: list[str]
    truncated: bool
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class R2UploadedPart:
    part_number: int
    etag: str


# ------------------------------------------------------------------ bucket


class R2Bucket:
    """One S3 bucket behind R2's Worker API."""

    def __init__(self, bucket: str, *, s3: Any = None) -> None:
        if not bucket:
            raise R2Error("R2Bucket needs an S3 bucket name")
        self.bucket = bucket
        if s3 is None:
            from ttai import aws  # noqa: PLC0415 - boto3 loads on first use

            s3 = aws.client("s3")
        self.s3 = s3
        self._sigv4: Any = None

    # ------------------------------------------------------------- reads

    def head(self, key: str) -> R2Object | None:
        """The object's metadata, or None if there is no such object. One HeadObject."""
        _check_key(key)
        try:
            response = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        return _object(key, response)

    def get(
        self, key: str, range: R2Range | None = None, only_if: R2Conditional | None = None
    ) -> R2ObjectBody | R2Object | None:
        """The object with its body; None if absent; an ``R2Object`` without a body if ``only_if`` fails."""
        _check_key(key)
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if range is not None:
            request["Range"] = _range_header(range)
        if only_if is not None:
            request.update(_read_conditions(only_if))
        try:
            response = self.s3.get_object(**request)
        except ClientError as exc:
            status, code = _status(exc), _code(exc)
            if status == 404 or code in {"NoSuchKey", "NotFound"}:
                return None
            if status in {304, 412} or code in {"PreconditionFailed", "NotModified", "304"}:
                return self.head(key)  # R2 answers with the object, without its body
            if status == 416 or code == "InvalidRange":
                raise RangeNotSatisfiable(f"get: the range {range} is not satisfiable for {key!r}") from exc
            raise
        obj = _object(key, response)
        if only_if is not None and not _uploaded_ok(only_if, obj.uploaded):
            # S3 lets If-Match / If-None-Match override the date conditions (RFC 9110); R2 wants all of them.
            response["Body"].close()
            return replace(obj, range=None)
        return R2ObjectBody(obj, response["Body"])

    # ------------------------------------------------------------ writes

    def put(
        self,
        key: str,
        value: Body,
        http_metadata: R2HTTPMetadata | None = None,
        custom_metadata: Mapping[str, str] | None = None,
        only_if: R2Conditional | None = None,
        *,
        tags: Mapping[str, str] | None = None,
    ) -> R2Object | None:
        """Store ``value``; None (and nothing written) if ``only_if`` fails.

        Text and bytes go up in one PutObject. A binary file or an iterable of bytes is streamed: a stream that
        ends within 8 MiB is one PutObject, a longer one a multipart upload of 8 MiB parts (never held whole).
        ``tags`` (beyond R2's API) are S3 object tags, which lifecycle rules can select on: at most 10, keys up to
        128 and values up to 256 characters.
        """
        _check_key(key)
        extra = _write_headers(http_metadata, custom_metadata)
        if tags:
            extra["Tagging"] = _tagging(tags)
        guard = self._write_guard(key, only_if)
        if guard is None:
            return None
        if value is None or isinstance(value, str | bytes | bytearray | memoryview):
            body = _encode(value)
            if len(body) > PUT_MAX_BYTES:
                raise ValueTooLarge(f"a value of {len(body)} bytes is over one upload's {PUT_MAX_BYTES} bytes")
            return self._put_bytes(key, body, extra, guard)
        return self._put_stream(key, _chunks(value), extra, guard)

    def _put_bytes(self, key: str, body: bytes, extra: dict[str, Any], guard: dict[str, str]) -> R2Object | None:
        try:
            response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra, **guard)
        except ClientError as exc:
            if _write_refused(exc, guard):
                return None
            raise
        return self._written(key, response, len(body), extra)

    def _put_stream(
        self, key: str, chunks: Iterator[bytes], extra: dict[str, Any], guard: dict[str, str]
    ) -> R2Object | None:
        buffer = bytearray()
        upload: R2MultipartUpload | None = None
        parts: list[R2UploadedPart] = []
        try:
            for chunk in chunks:
                buffer += chunk
                while len(buffer) >= STREAM_PART_BYTES:
                    if upload is None:
                        upload = self._create_upload(key, extra)
                    with memoryview(buffer) as view:  # one copy of the part, not two
                        part = bytes(view[:STREAM_PART_BYTES])
                    del buffer[:STREAM_PART_BYTES]
                    parts.append(upload.upload_part(len(parts) + 1, part))
            if upload is None:
                return self._put_bytes(key, bytes(buffer), extra, guard)
            if buffer or not parts:
                parts.append(upload.upload_part(len(parts) + 1, bytes(buffer)))
            return upload.complete(parts, guard=guard)
        except BaseException:
            if upload is not None and not upload.finished:
                upload.abort()
            raise

    def _written(self, key: str, response: Mapping[str, Any], size: int, extra: dict[str, Any]) -> R2Object:
        etag = _unquote_etag(response["ETag"])
        return R2Object(
            key=key,
            version=_version(response, etag),
            size=size,
            etag=etag,
            uploaded=_server_time(response),
            http_metadata=_http_metadata(extra),
            custom_metadata=_decode_custom(extra.get("Metadata", {})),
            checksums=_checksums(etag),
        )

    def _write_guard(self, key: str, only_if: R2Conditional | None) -> dict[str, str] | None:
        """S3 conditional-write headers for ``only_if``; None when it already fails (nothing is written)."""
        if only_if is None:
            return {}
        _check_conditional(only_if)
        if only_if.uploaded_before is not None or only_if.uploaded_after is not None:
            raise UnsupportedCondition(
                "S3 has no conditional write on the upload time, so put() cannot honour uploaded_before / "
                "uploaded_after atomically; head() the object and pass etag_matches with its etag instead"
            )
        guard: dict[str, str] = {}
        if only_if.etag_matches is not None:
            guard["IfMatch"] = _quote_etag(only_if.etag_matches)
        refused = only_if.etag_does_not_match
        if refused is not None and _unquote_etag(refused) == "*":
            guard["IfNoneMatch"] = "*"
        elif refused is not None:
            # S3's If-None-Match on writes takes only "*": read the current etag, then write only over that one.
            if only_if.etag_matches is not None:
                return guard if _unquote_etag(only_if.etag_matches) != _unquote_etag(refused) else None
            current = self.head(key)
            if current is not None and current.etag == _unquote_etag(refused):
                return None
            if current is None:
                guard["IfNoneMatch"] = "*"
            else:
                guard["IfMatch"] = current.http_etag
        return guard

    # ------------------------------------------------------------ delete

    def delete(self, keys: str | Sequence[str]) -> None:
        """Delete one key or up to 1,000 (one DeleteObjects); missing keys are not an error.

        On a versioned bucket this adds a delete marker, as a plain S3 delete does; ``purge`` removes versions too.
        """
        if isinstance(keys, str):
            _check_key(keys)
            self.s3.delete_object(Bucket=self.bucket, Key=keys)
            return
        names = list(dict.fromkeys(keys))
        if len(names) > DELETE_MAX_KEYS:
            raise TooManyKeys(f"delete takes at most {DELETE_MAX_KEYS} keys, got {len(names)}")
        for name in names:
            _check_key(name)
        if names:
            self._delete_objects([{"Key": name} for name in names])

    def purge(self, prefix: str) -> int:
        """Extension (S3 only): every version and delete marker under ``prefix`` removed, and unfinished
        multipart uploads there aborted, so nothing under it can be restored. Returns the versions removed.

        Costs one ListObjectVersions per 1,000 versions and one DeleteObjects per 1,000 removed.
        """
        _check_prefix(prefix)
        if not prefix:
            raise InvalidKey("purge needs a non-empty prefix")
        removed = 0
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            entries = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
            ]
            for start in range(0, len(entries), DELETE_MAX_KEYS):
                self._delete_objects(entries[start : start + DELETE_MAX_KEYS])
            removed += len(entries)
        uploads = self.s3.get_paginator("list_multipart_uploads")
        for page in uploads.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                self._abort(upload["Key"], upload["UploadId"])
        return removed

    def _delete_objects(self, entries: list[dict[str, str]]) -> None:
        response = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": entries, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise R2Error(
                f"S3 refused to delete {len(errors)} object(s), e.g. {first.get('Key')!r}: {first.get('Code')}"
            )

    # -------------------------------------------------------------- list

    def list(
        self,
        prefix: str | None = None,
        delimiter: str | None = None,
        cursor: str | None = None,
        limit: int = LIST_LIMIT_MAX,
        include: Sequence[Include] = (),
        start_after: str | None = None,
    ) -> R2Objects:
        """Objects in key order (UTF-8 bytes), ``limit`` (1..1000) at most per page, resumed with ``cursor``.

        With ``delimiter`` the keys that share a prefix up to it are rolled into ``delimited_prefixes``; objects
        and prefixes together count towards ``limit``. ``include`` costs one HeadObject per object listed.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidListOptions(f"list limit must be an integer from 1 to {LIST_LIMIT_MAX}, got {limit!r}")
        if isinstance(include, str) or any(name not in INCLUDE_FIELDS for name in include):
            raise InvalidListOptions(f"include takes a sequence of {', '.join(INCLUDE_FIELDS)}, got {include!r}")
        if prefix is not None:
            _check_prefix(prefix)
        if start_after is not None:
            _check_prefix(start_after)
        if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
            raise InvalidListOptions("delimiter must be a non-empty string")
        request: dict[str, Any] = {"Bucket": self.bucket, "MaxKeys": limit}
        if prefix:
            request["Prefix"] = prefix
        if delimiter:
            request["Delimiter"] = delimiter
        if cursor:
            request["ContinuationToken"] = _decode_cursor(cursor, prefix, delimiter)
        elif start_after:
            request["StartAfter"] = start_after
        try:
            response = self.s3.list_objects_v2(**request)
        except ClientError as exc:
            # Every other option was checked above, so S3 refusing an argument refuses the token.
            if "ContinuationToken" in request and _code(exc) == "InvalidArgument":
                raise UnknownListCursor("list cursor is not one this bucket issued") from exc
            raise
        listed = [
            R2Object(
                key=item["Key"],
                version=_unquote_etag(item["ETag"]),
                size=int(item["Size"]),
                etag=_unquote_etag(item["ETag"]),
                uploaded=item["LastModified"].astimezone(UTC),
                checksums=_checksums(_unquote_etag(item["ETag"])),
                storage_class=_storage_class(item.get("StorageClass")),
            )
            for item in response.get("Contents", [])
        ]
        if include:
            listed = self._with_metadata(listed, include)
        truncated = bool(response.get("IsTruncated"))
        token = response.get("NextContinuationToken")
        return R2Objects(
            objects=listed,
            delimited_prefixes=[p["Prefix"] for p in response.get("CommonPrefixes", [])],
            truncated=truncated,
            cursor=_encode_cursor(token, prefix, delimiter) if truncated and token else None,
        )

    def _with_metadata(self, listed: builtins.list[R2Object], include: Sequence[Include]) -> builtins.list[R2Object]:
        def described(obj: R2Object) -> R2Object | None:
            try:
                response = self.s3.head_object(Bucket=self.bucket, Key=obj.key)
            except ClientError as exc:
                if _status(exc) == 404:
                    return None
                raise
            full = _object(obj.key, response)
            return replace(
                full,
                http_metadata=full.http_metadata if "httpMetadata" in include else None,
                custom_metadata=full.custom_metadata if "customMetadata" in include else None,
            )

        if len(listed) <= 1:
            results = [described(obj) for obj in listed]
        else:
            with ThreadPoolExecutor(max_workers=min(_HEAD_WORKERS, len(listed))) as pool:
                results = list(pool.map(described, listed))
        return [obj for obj in results if obj is not None]

    # --------------------------------------------------------- presigned

    def presigned_get_url(self, key: str, expires_in: int, *, download_name: str | None = None) -> str:
        """Extension (R2 offers the same through its S3 API): a SigV4 presigned GET of ``key``, valid for
        ``expires_in`` seconds (1 to 7 days' worth), or less if the credentials signing it expire sooner."""
        _check_key(key)
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int)
            or not 1 <= expires_in <= PRESIGN_MAX_SECONDS
        ):
            raise R2Error(f"a presigned URL lives 1 to {PRESIGN_MAX_SECONDS} seconds, not {expires_in!r}")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if download_name is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{quote(download_name, safe="")}"'
        url: str = self._signer().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url

    def _signer(self) -> Any:
        """A client like ``s3`` that signs with SigV4 (botocore may presign with SigV2, which S3 is retiring)."""
        if self._sigv4 is None:
            import boto3  # noqa: PLC0415
            from botocore.config import Config  # noqa: PLC0415

            meta = self.s3.meta
            # Credentials come from the same chain the binding's own client used (the function's role on Lambda).
            self._sigv4 = boto3.client(
                "s3",
                endpoint_url=meta.endpoint_url,
                region_name=meta.region_name,
                config=meta.config.merge(Config(signature_version="s3v4")),
            )
        return self._sigv4

    # --------------------------------------------------------- multipart

    def create_multipart_upload(
        self,
        key: str,
        http_metadata: R2HTTPMetadata | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> R2MultipartUpload:
        """Start a multipart upload; parts of 5 MiB to 5 GiB (the last may be smaller), numbered 1..10000."""
        _check_key(key)
        return self._create_upload(key, _write_headers(http_metadata, custom_metadata))

    def resume_multipart_upload(self, key: str, upload_id: str) -> R2MultipartUpload:
        """The upload ``upload_id`` of ``key``, to add parts, complete or abort it (nothing is checked yet)."""
        _check_key(key)
        if not upload_id:
            raise NoSuchUpload("an upload id is required")
        return R2MultipartUpload(self, key, upload_id, {})

    def _create_upload(self, key: str, extra: dict[str, Any]) -> R2MultipartUpload:
        response = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        return R2MultipartUpload(self, key, response["UploadId"], extra)

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise


class R2MultipartUpload:
    """R2's ``R2MultipartUpload``: ``upload_part``, ``complete``, ``abort``."""

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str, extra: dict[str, Any]) -> None:
        self._bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self._extra = extra
        self._sizes: dict[int, int] = {}
        self.finished = False

    def upload_part(self, part_number: int, value: Value) -> R2UploadedPart:
        if isinstance(part_number, bool) or not isinstance(part_number, int) or not 1 <= part_number <= PART_NUMBER_MAX:
            raise InvalidPart(f"part numbers run from 1 to {PART_NUMBER_MAX}, got {part_number!r}")
        body = _encode(value)
        if len(body) > PART_MAX_BYTES:
            raise ValueTooLarge(f"a part of {len(body)} bytes is over the {PART_MAX_BYTES}-byte limit")
        try:
            response = self._bucket.s3.upload_part(
                Bucket=self._bucket.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=part_number, Body=body
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise NoSuchUpload(f"upload {self.upload_id} of {self.key!r} is no longer open") from exc
            raise
        self._sizes[part_number] = len(body)
        return R2UploadedPart(part_number=part_number, etag=_unquote_etag(response["ETag"]))

    def abort(self) -> None:
        """Drop the upload and its parts (aborting one that is gone is not an error)."""
        self._bucket._abort(self.key, self.upload_id)
        self.finished = True

    def complete(
        self, uploaded_parts: Sequence[R2UploadedPart], *, guard: Mapping[str, str] | None = None
    ) -> R2Object | None:
        """Assemble the parts (in part-number order) into the object; None if ``guard``'s condition failed."""
        if not uploaded_parts:
            raise InvalidPart("complete needs at least one part")
        ordered = sorted(uploaded_parts, key=lambda p: p.part_number)
        numbers = [p.part_number for p in ordered]
        if len(set(numbers)) != len(numbers):
            raise InvalidPart("a part number appears twice")
        small = [n for n in numbers[:-1] if self._sizes.get(n, PART_MIN_BYTES) < PART_MIN_BYTES]
        if small:
            raise InvalidPart(f"parts {small} are under {PART_MIN_BYTES} bytes and are not the last part")
        conditions = dict(guard or {})
        try:
            response = self._bucket.s3.complete_multipart_upload(
                Bucket=self._bucket.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.part_number, "ETag": _quote_etag(p.etag)} for p in ordered]
                },
                **conditions,
            )
        except ClientError as exc:
            if _write_refused(exc, conditions):
                self.abort()
                return None
            if _code(exc) == "NoSuchUpload":
                raise NoSuchUpload(f"upload {self.upload_id} of {self.key!r} is no longer open") from exc
            if _code(exc) in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
                raise InvalidPart(f"S3 refused the parts of {self.key!r}: {_code(exc)}") from exc
            raise
        self.finished = True
        # CompleteMultipartUpload reports neither size nor time: read back the version it made (one HeadObject).
        version = response.get("VersionId")
        extra = {"VersionId": version} if version and version != "null" else {}
        head = self._bucket.s3.head_object(Bucket=self._bucket.bucket, Key=self.key, **extra)
        return _object(self.key, head)


# ----------------------------------------------------------------- helpers


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise InvalidKey(f"a key must be a string, got {type(key).__name__}")
    if not key:
        raise InvalidKey("a key cannot be empty")
    _check_size(key, "key")


def _check_prefix(prefix: object) -> None:
    if not isinstance(prefix, str):
        raise InvalidKey(f"a prefix must be a string, got {type(prefix).__name__}")
    _check_size(prefix, "prefix")


def _check_size(text: str, what: str) -> None:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidKey(f"{what} {text!r} is not valid Unicode text") from exc
    if size > KEY_MAX_BYTES:
        raise KeyTooLong(f"{what} is {size} bytes; keys are at most {KEY_MAX_BYTES} bytes of UTF-8")


def _encode(value: Value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UnsupportedValue(f"a text value must be valid Unicode: {exc.reason}") from exc
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise UnsupportedValue(f"a value must be str or bytes, got {type(value).__name__}")


def _chunks(value: object) -> Iterator[bytes]:
    read = getattr(value, "read", None)
    if callable(read):
        while chunk := read(STREAM_PART_BYTES):
            yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
        return
    if isinstance(value, Iterable):
        for chunk in value:
            if isinstance(chunk, str):
                yield chunk.encode("utf-8")
            elif isinstance(chunk, bytes | bytearray | memoryview):
                yield bytes(chunk)
            else:
                raise UnsupportedValue(f"a streamed value yields bytes or str, got {type(chunk).__name__}")
        return
    raise UnsupportedValue(
        f"a value must be str, bytes, a binary file or an iterable of bytes, got {type(value).__name__}"
    )


def _range_header(spec: R2Range) -> str:
    def whole(value: int | None, name: str, minimum: int) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise InvalidRange(f"range {name} must be an integer >= {minimum}, got {value!r}")

    whole(spec.offset, "offset", 0)
    whole(spec.length, "length", 0)
    whole(spec.suffix, "suffix", 0)
    if spec.suffix is not None:
        if spec.offset is not None or spec.length is not None:
            raise InvalidRange("a suffix range takes no offset or length")
        if spec.suffix == 0:
            raise InvalidRange("a suffix of 0 bytes cannot be expressed as an S3 range")
        return f"bytes=-{spec.suffix}"
    if spec.offset is None and spec.length is None:
        raise InvalidRange("a range needs an offset, a length or a suffix")
    if spec.length == 0:
        raise InvalidRange("a range of 0 bytes cannot be expressed as an S3 range")
    start = spec.offset or 0
    if spec.length is None:
        return f"bytes={start}-"
    return f"bytes={start}-{start + spec.length - 1}"


def _check_conditional(only_if: R2Conditional) -> None:
    if not isinstance(only_if, R2Conditional):
        raise InvalidCondition(f"only_if must be an R2Conditional, got {type(only_if).__name__}")
    for name in ("etag_matches", "etag_does_not_match"):
        value = getattr(only_if, name)
        if value is not None and (not isinstance(value, str) or not _unquote_etag(value)):
            raise InvalidCondition(f"{name} must be a non-empty etag")
    for name in ("uploaded_before", "uploaded_after"):
        value = getattr(only_if, name)
        if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
            raise InvalidCondition(f"{name} must be a datetime with a time zone")


def _read_conditions(only_if: R2Conditional) -> dict[str, Any]:
    """S3 GetObject headers for ``only_if``. S3 keeps times to the second, so "uploaded before t" is "not
    modified since the last whole second before t" and "uploaded after t" is "modified since t's second"."""
    _check_conditional(only_if)
    headers: dict[str, Any] = {}
    if only_if.etag_matches is not None:
        headers["IfMatch"] = _quote_etag(only_if.etag_matches)
    if only_if.etag_does_not_match is not None:
        headers["IfNoneMatch"] = _quote_etag(only_if.etag_does_not_match)
    if only_if.uploaded_before is not None:
        headers["IfUnmodifiedSince"] = _ceil_second(only_if.uploaded_before) - timedelta(seconds=1)
    if only_if.uploaded_after is not None:
        headers["IfModifiedSince"] = only_if.uploaded_after.astimezone(UTC).replace(microsecond=0)
    return headers


def _uploaded_ok(only_if: R2Conditional, uploaded: datetime) -> bool:
    if only_if.uploaded_before is not None and not uploaded < only_if.uploaded_before:
        return False
    return only_if.uploaded_after is None or uploaded > only_if.uploaded_after


def _ceil_second(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    whole = utc.replace(microsecond=0)
    return whole if whole == utc else whole + timedelta(seconds=1)


def _write_refused(exc: ClientError, guard: Mapping[str, str]) -> bool:
    """Whether S3 refused a conditional write because its condition failed (If-Match on a missing key is 404)."""
    if not guard:
        return False
    status, code = _status(exc), _code(exc)
    if status == 412 or code in {"PreconditionFailed", "ConditionalRequestConflict"}:
        return True
    return "IfMatch" in guard and (status == 404 or code == "NoSuchKey")


def _tagging(tags: Mapping[str, str]) -> str:
    if len(tags) > TAGS_MAX:
        raise InvalidMetadata(f"an object takes at most {TAGS_MAX} tags, got {len(tags)}")
    for name, value in tags.items():
        if not isinstance(name, str) or not isinstance(value, str) or not 1 <= len(name) <= 128 or len(value) > 256:
            raise InvalidMetadata("tag keys are 1-128 characters and values at most 256, both text")
    return urlencode(dict(tags))


def _write_headers(http_metadata: R2HTTPMetadata | None, custom_metadata: Mapping[str, str] | None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if http_metadata is not None:
        if not isinstance(http_metadata, R2HTTPMetadata):
            raise InvalidMetadata(f"http_metadata must be an R2HTTPMetadata, got {type(http_metadata).__name__}")
        for attr, param in _HTTP_FIELDS.items():
            value = getattr(http_metadata, attr)
            if value is None:
                continue
            if attr == "cache_expiry":
                if not isinstance(value, datetime) or value.utcoffset() is None:
                    raise InvalidMetadata("cache_expiry must be a datetime with a time zone")
            elif not isinstance(value, str) or any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
                raise InvalidMetadata(f"{attr} must be printable ASCII text (it travels as an HTTP header)")
            extra[param] = value
    if custom_metadata is not None:
        extra["Metadata"] = _encode_custom(custom_metadata)
    return extra


def _encode_custom(custom: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(custom, Mapping):
        raise InvalidMetadata(f"custom_metadata must map strings to strings, got {type(custom).__name__}")
    size = 0
    stored: dict[str, str] = {}
    for name, value in custom.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise InvalidMetadata("custom_metadata maps non-empty string keys to string values")
        try:
            size += len(name.encode("utf-8")) + len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidMetadata("custom_metadata must be valid Unicode text") from exc
        # S3 lowercases header names, so uppercase letters are escaped too.
        encoded_name = "".join(c if c in _KEY_SAFE else _escape(c) for c in name)
        if encoded_name in stored:
            raise InvalidMetadata(f"custom_metadata key {name!r} appears twice")
        stored[encoded_name] = quote(value, safe=_VALUE_SAFE)
    if size > CUSTOM_METADATA_MAX_BYTES:
        raise MetadataTooLarge(
            f"custom_metadata is {size} bytes (keys and values, UTF-8); the limit is {CUSTOM_METADATA_MAX_BYTES}"
        )
    stored_size = sum(len(k) + len(v) for k, v in stored.items())
    if stored_size > S3_METADATA_MAX_BYTES:
        raise MetadataTooLarge(
            f"custom_metadata fits R2's {CUSTOM_METADATA_MAX_BYTES} bytes but S3 stores it percent-encoded "
            f"(uppercase or non-ASCII characters) in {stored_size} bytes, over S3's {S3_METADATA_MAX_BYTES}"
        )
    return stored


def _escape(char: str) -> str:
    # "_" and two lowercase hex digits per UTF-8 byte: "%" is a legal header character but not every S3
    # implementation keeps metadata names holding it, while "_", digits and lowercase letters always survive.
    return "".join(f"_{byte:02x}" for byte in char.encode("utf-8"))


def _unescape_name(name: str) -> str:
    if "_" not in name:
        return name
    try:
        raw = _NAME_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), name).encode("latin-1")
    except UnicodeEncodeError:
        return name  # not a name this binding wrote
    return raw.decode("utf-8", errors="replace")


def _decode_custom(stored: Mapping[str, str]) -> dict[str, str]:
    return {_unescape_name(name): unquote(value) for name, value in stored.items()}


def _http_metadata(response: Mapping[str, Any]) -> R2HTTPMetadata:
    values: dict[str, Any] = {}
    for attr, param in _HTTP_FIELDS.items():
        value = response.get(param)
        if value is not None and value != "":
            values[attr] = value
    return R2HTTPMetadata(**values)


def _object(key: str, response: Mapping[str, Any]) -> R2Object:
    etag = _unquote_etag(response["ETag"])
    total = int(response["ContentLength"])
    returned: R2Range | None = None
    content_range = response.get("ContentRange")
    if content_range:  # "bytes 0-9/100"
        span, _, whole = content_range.removeprefix("bytes ").partition("/")
        first, _, last = span.partition("-")
        returned = R2Range(offset=int(first), length=int(last) - int(first) + 1)
        total = int(whole) if whole.isdigit() else total
    return R2Object(
        key=key,
        version=_version(response, etag),
        size=total,
        etag=etag,
        uploaded=response["LastModified"].astimezone(UTC),
        http_metadata=_http_metadata(response),
        custom_metadata=_decode_custom(response.get("Metadata", {})),
        range=returned,
        checksums=_checksums(etag),
        storage_class=_storage_class(response.get("StorageClass")),
    )


def _server_time(response: Mapping[str, Any]) -> datetime:
    """When S3 stored a PutObject (its response's Date, to the second: PutObject does not echo Last-Modified)."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    stored: datetime | None = None
    if date:
        try:
            stored = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            stored = None  # a malformed Date: fall back to this machine's clock
    return stored.astimezone(UTC) if stored else datetime.now(UTC).replace(microsecond=0)


def _version(response: Mapping[str, Any], etag: str) -> str:
    version = response.get("VersionId")
    # An unversioned bucket reports "null" (or nothing): the etag is then the best identity of the upload.
    return str(version) if version and version != "null" else etag


def _checksums(etag: str) -> R2Checksums:
    if "-" in etag or len(etag) != 32:
        return R2Checksums()
    try:
        return R2Checksums(md5=bytes.fromhex(etag))
    except ValueError:
        return R2Checksums()


def _storage_class(value: str | None) -> str:
    return "InfrequentAccess" if value in {"STANDARD_IA", "ONEZONE_IA"} else "Standard"


def _quote_etag(etag: str) -> str:
    bare = _unquote_etag(etag)
    return "*" if bare == "*" else f'"{bare}"'


def _unquote_etag(etag: str) -> str:
    text = etag.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _encode_cursor(token: str, prefix: str | None, delimiter: str | None) -> str:
    payload = json.dumps({"t": token, "p": prefix or "", "d": delimiter or ""}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, prefix: str | None, delimiter: str | None) -> str:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        token, issued_prefix, issued_delimiter = payload["t"], payload["p"], payload["d"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
        raise InvalidListOptions("list cursor is not one this binding issued") from exc
    if not isinstance(token, str) or issued_prefix != (prefix or "") or issued_delimiter != (delimiter or ""):
        raise InvalidListOptions("list cursor was issued for a different prefix or delimiter")
    try:
        token.encode("utf-8")  # S3 decides whether it issued the token; it must at least cross as a query string
    except UnicodeEncodeError as exc:
        raise InvalidListOptions("list cursor is not one this binding issued") from exc
    return token


def part_count(size: int, part_size: int = STREAM_PART_BYTES) -> int:
    """How many parts put() uses for a stream of ``size`` bytes (1: a single PutObject)."""
    return max(1, math.ceil(size / part_size))


def md5_etag(body: bytes) -> str:
    """The etag S3 gives a single-part upload of ``body`` (its MD5, hex)."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()

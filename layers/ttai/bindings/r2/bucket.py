"""``R2Bucket``: R2's Worker API on one S3 bucket (``head``, ``get``, ``put``, ``delete``, ``list``, multipart).

Conditions on reads go to S3 as headers; a failed one gives an ``R2Object`` without a body, as R2 does (one
HeadObject more, on the failure path only). Conditions on writes use S3's conditional writes: ``etag_matches`` is
If-Match, ``etag_does_not_match="*"`` If-None-Match, and ``etag_does_not_match`` with an etag a HeadObject then a
write pinned to the etag it saw, still atomic. ``list(include=...)`` costs one HeadObject per object listed (a few
at a time), as ListObjectsV2 returns no metadata.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC
from typing import Any, Literal
from urllib.parse import quote

from botocore.exceptions import ClientError

from ttai.bindings.common import KeyRules, ListCursors, error_code, http_status, reports_unavailable
from ttai.bindings.r2.errors import (
    DEPENDENCY,
    InvalidKey,
    InvalidListOptions,
    KeyTooLong,
    NoSuchUpload,
    R2Error,
    RangeNotSatisfiable,
    TooManyKeys,
    UnknownListCursor,
    UnsupportedCondition,
    ValueTooLarge,
)
from ttai.bindings.r2.metadata import R2HTTPMetadata, decode_custom, http_metadata_of, tagging, write_headers
from ttai.bindings.r2.multipart import R2MultipartUpload
from ttai.bindings.r2.objects import (
    R2Object,
    R2ObjectBody,
    R2Objects,
    R2UploadedPart,
    checksums_of,
    object_from_response,
    server_time,
    storage_class_of,
    version_of,
)
from ttai.bindings.r2.options import (
    R2Conditional,
    R2Range,
    check_conditional,
    quote_etag,
    range_header,
    read_conditions,
    unquote_etag,
    uploaded_ok,
    write_refused,
)
from ttai.bindings.r2.values import PUT_MAX_BYTES, STREAM_PART_BYTES, Body, encode_value, value_chunks
from ttai.bindings.r2.worker_options import (
    GET_OPTIONS,
    LIST_OPTIONS,
    PUT_OPTIONS,
    UPLOAD_OPTIONS,
    as_conditional,
    as_http_metadata,
    as_range,
    call_options,
)

KEY_MAX_BYTES = 1024
LIST_LIMIT_MAX = 1000
DELETE_MAX_KEYS = 1000
PRESIGN_MAX_SECONDS = 7 * 24 * 3600  # SigV4's limit
INCLUDE_FIELDS = ("httpMetadata", "customMetadata")
_HEAD_WORKERS = 8  # HeadObject calls in flight for list(include=...)

Include = Literal["httpMetadata", "customMetadata"]
_INCLUDE_SPELLINGS = {"http_metadata": "httpMetadata", "custom_metadata": "customMetadata"}
IncludeSpelling = Literal["httpMetadata", "customMetadata", "http_metadata", "custom_metadata"]
KEY_RULES = KeyRules(KEY_MAX_BYTES, InvalidKey, KeyTooLong)
LIST_CURSORS = ListCursors("bucket", position="t", options={"p": "prefix", "d": "delimiter"}, error=InvalidListOptions)


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

    @reports_unavailable(DEPENDENCY)
    def head(self, key: str) -> R2Object | None:
        """The object's metadata, or None if there is no such object. One HeadObject."""
        KEY_RULES.check_key(key)
        try:
            response = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if http_status(exc) == 404:
                return None
            raise
        return object_from_response(key, response)

    @reports_unavailable(DEPENDENCY)
    def get(
        self,
        key: str,
        options: Mapping[str, Any] | None = None,
        *,
        range: R2Range | Mapping[str, Any] | None = None,
        only_if: R2Conditional | Mapping[str, Any] | None = None,
        **worker_options: Any,
    ) -> R2ObjectBody | R2Object | None:
        """The object with its body; None if absent; an ``R2Object`` without a body if ``only_if`` fails.

        Options as keywords or as the Worker's ``{"range": {...}, "onlyIf": {...}}`` (see ``worker_options``).
        """
        KEY_RULES.check_key(key)
        chosen = call_options("get", GET_OPTIONS, options, {"range": range, "only_if": only_if}, worker_options)
        range, only_if = as_range(chosen.get("range")), as_conditional(chosen.get("only_if"))
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if range is not None:
            request["Range"] = range_header(range)
        if only_if is not None:
            request.update(read_conditions(only_if))
        try:
            response = self.s3.get_object(**request)
        except ClientError as exc:
            status, code = http_status(exc), error_code(exc)
            if status == 404 or code in {"NoSuchKey", "NotFound"}:
                return None
            if status in {304, 412} or code in {"PreconditionFailed", "NotModified", "304"}:
                return self.head(key)  # R2 answers with the object, without its body
            if status == 416 or code == "InvalidRange":
                raise RangeNotSatisfiable(f"get: the range {range} is not satisfiable for {key!r}") from exc
            raise
        obj = object_from_response(key, response)
        if only_if is not None and not uploaded_ok(only_if, obj.uploaded):
            # S3 lets If-Match / If-None-Match override the date conditions (RFC 9110); R2 wants all of them.
            response["Body"].close()
            return replace(obj, range=None)
        return R2ObjectBody(obj, response["Body"])

    # ------------------------------------------------------------ writes

    @reports_unavailable(DEPENDENCY)
    def put(
        self,
        key: str,
        value: Body,
        options: Mapping[str, Any] | None = None,
        *,
        http_metadata: R2HTTPMetadata | Mapping[str, Any] | None = None,
        custom_metadata: Mapping[str, str] | None = None,
        only_if: R2Conditional | Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        **worker_options: Any,
    ) -> R2Object | None:
        """Store ``value``; None (and nothing written) if ``only_if`` fails.

        Options as keywords or as the Worker's ``{"httpMetadata": {...}, "customMetadata": {...}, "onlyIf": {...}}``
        (see ``worker_options``).

        Text and bytes go up in one PutObject. A binary file or an iterable of bytes is streamed: a stream that
        ends within 8 MiB is one PutObject, a longer one a multipart upload of 8 MiB parts (never held whole).
        ``tags`` (beyond R2's API) are S3 object tags, which lifecycle rules can select on: at most 10, keys up to
        128 and values up to 256 characters.
        """
        KEY_RULES.check_key(key)
        chosen = call_options(
            "put",
            PUT_OPTIONS,
            options,
            {"http_metadata": http_metadata, "custom_metadata": custom_metadata, "only_if": only_if},
            worker_options,
        )
        extra = write_headers(as_http_metadata(chosen.get("http_metadata")), chosen.get("custom_metadata"))
        if tags:
            extra["Tagging"] = tagging(tags)
        guard = self._write_guard(key, as_conditional(chosen.get("only_if")))
        if guard is None:
            return None
        if value is None or isinstance(value, str | bytes | bytearray | memoryview):
            body = encode_value(value)
            if len(body) > PUT_MAX_BYTES:
                raise ValueTooLarge(f"a value of {len(body)} bytes is over one upload's {PUT_MAX_BYTES} bytes")
            return self._put_bytes(key, body, extra, guard)
        return self._put_stream(key, value_chunks(value), extra, guard)

    def _put_bytes(self, key: str, body: bytes, extra: dict[str, Any], guard: dict[str, str]) -> R2Object | None:
        try:
            response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra, **guard)
        except ClientError as exc:
            if write_refused(exc, guard):
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
        etag = unquote_etag(response["ETag"])
        return R2Object(
            key=key,
            version=version_of(response, etag),
            size=size,
            etag=etag,
            uploaded=server_time(response),
            http_metadata=http_metadata_of(extra),
            custom_metadata=decode_custom(extra.get("Metadata", {})),
            checksums=checksums_of(etag),
        )

    def _write_guard(self, key: str, only_if: R2Conditional | None) -> dict[str, str] | None:
        """S3 conditional-write headers for ``only_if``; None when it already fails (nothing is written)."""
        if only_if is None:
            return {}
        check_conditional(only_if)
        if only_if.uploaded_before is not None or only_if.uploaded_after is not None:
            raise UnsupportedCondition(
                "S3 has no conditional write on the upload time, so put() cannot honour uploaded_before / "
                "uploaded_after atomically; head() the object and pass etag_matches with its etag instead"
            )
        guard: dict[str, str] = {}
        if only_if.etag_matches is not None:
            guard["IfMatch"] = quote_etag(only_if.etag_matches)
        refused = only_if.etag_does_not_match
        if refused is not None and unquote_etag(refused) == "*":
            guard["IfNoneMatch"] = "*"
        elif refused is not None:
            # S3's If-None-Match on writes takes only "*": read the current etag, then write only over that one.
            if only_if.etag_matches is not None:
                return guard if unquote_etag(only_if.etag_matches) != unquote_etag(refused) else None
            current = self.head(key)
            if current is not None and current.etag == unquote_etag(refused):
                return None
            if current is None:
                guard["IfNoneMatch"] = "*"
            else:
                guard["IfMatch"] = current.http_etag
        return guard

    # ------------------------------------------------------------ delete

    @reports_unavailable(DEPENDENCY)
    def delete(self, keys: str | Sequence[str]) -> None:
        """Delete one key or up to 1,000 (one DeleteObjects); missing keys are not an error.

        On a versioned bucket this adds a delete marker, as a plain S3 delete does; ``purge`` removes versions too.
        """
        if isinstance(keys, str):
            KEY_RULES.check_key(keys)
            self.s3.delete_object(Bucket=self.bucket, Key=keys)
            return
        names = list(dict.fromkeys(keys))
        if len(names) > DELETE_MAX_KEYS:
            raise TooManyKeys(f"delete takes at most {DELETE_MAX_KEYS} keys, got {len(names)}")
        for name in names:
            KEY_RULES.check_key(name)
        if names:
            self._delete_objects([{"Key": name} for name in names])

    @reports_unavailable(DEPENDENCY)
    def purge(self, prefix: str) -> int:
        """Extension (S3 only): every version and delete marker under ``prefix`` removed, and unfinished
        multipart uploads there aborted, so nothing under it can be restored. Returns the versions removed.

        Costs one ListObjectVersions per 1,000 versions and one DeleteObjects per 1,000 removed.
        """
        KEY_RULES.check_prefix(prefix)
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

    @reports_unavailable(DEPENDENCY)
    def list(
        self,
        prefix: str | Mapping[str, Any] | None = None,
        delimiter: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        include: Sequence[IncludeSpelling] | None = None,
        start_after: str | None = None,
        **worker_options: Any,
    ) -> R2Objects:
        """Objects in key order (UTF-8 bytes), ``limit`` (1..1000, default 1000) at most per page, resumed with
        ``cursor``. The options may come as the Worker's mapping instead: ``list({"prefix": "a/", "limit": 10})``.

        With ``delimiter`` the keys that share a prefix up to it are rolled into ``delimited_prefixes``; objects
        and prefixes together count towards ``limit``. ``include`` costs one HeadObject per object listed.
        """
        given = prefix if isinstance(prefix, Mapping) else {"prefix": prefix}
        keywords = {
            "delimiter": delimiter,
            "cursor": cursor,
            "limit": limit,
            "include": include,
            "start_after": start_after,
        }
        chosen = call_options("list", LIST_OPTIONS, given, keywords, worker_options)
        return self._list(**chosen)

    def _list(
        self,
        prefix: str | None = None,
        delimiter: str | None = None,
        cursor: str | None = None,
        limit: int = LIST_LIMIT_MAX,
        include: Sequence[Include] = (),
        start_after: str | None = None,
    ) -> R2Objects:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidListOptions(f"list limit must be an integer from 1 to {LIST_LIMIT_MAX}, got {limit!r}")
        include = _include_fields(include)
        if prefix is not None:
            KEY_RULES.check_prefix(prefix)
        if start_after is not None:
            KEY_RULES.check_prefix(start_after)
        if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
            raise InvalidListOptions("delimiter must be a non-empty string")
        request: dict[str, Any] = {"Bucket": self.bucket, "MaxKeys": limit}
        if prefix:
            request["Prefix"] = prefix
        if delimiter:
            request["Delimiter"] = delimiter
        if cursor:
            request["ContinuationToken"] = decode_list_cursor(cursor, prefix, delimiter)
        elif start_after:
            request["StartAfter"] = start_after
        try:
            response = self.s3.list_objects_v2(**request)
        except ClientError as exc:
            # Every other option was checked above, so S3 refusing an argument refuses the token.
            if "ContinuationToken" in request and error_code(exc) == "InvalidArgument":
                raise UnknownListCursor("list cursor is not one this bucket issued") from exc
            raise
        listed = [
            R2Object(
                key=item["Key"],
                version=unquote_etag(item["ETag"]),
                size=int(item["Size"]),
                etag=unquote_etag(item["ETag"]),
                uploaded=item["LastModified"].astimezone(UTC),
                checksums=checksums_of(unquote_etag(item["ETag"])),
                storage_class=storage_class_of(item.get("StorageClass")),
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
            cursor=encode_list_cursor(token, prefix, delimiter) if truncated and token else None,
        )

    def _with_metadata(self, listed: builtins.list[R2Object], include: Sequence[Include]) -> builtins.list[R2Object]:
        def described(obj: R2Object) -> R2Object | None:
            try:
                response = self.s3.head_object(Bucket=self.bucket, Key=obj.key)
            except ClientError as exc:
                if http_status(exc) == 404:
                    return None
                raise
            full = object_from_response(obj.key, response)
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
        KEY_RULES.check_key(key)
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

    @reports_unavailable(DEPENDENCY)
    def create_multipart_upload(
        self,
        key: str,
        options: Mapping[str, Any] | None = None,
        *,
        http_metadata: R2HTTPMetadata | Mapping[str, Any] | None = None,
        custom_metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        **worker_options: Any,
    ) -> R2MultipartUpload:
        """Start a multipart upload; parts of 5 MiB to 5 GiB (the last may be smaller), numbered 1..10000.

        Options as keywords or as the Worker's ``{"httpMetadata": {...}, "customMetadata": {...}}``. ``tags`` (beyond
        R2's API, as on ``put``) become the object's S3 tags when the upload completes."""
        KEY_RULES.check_key(key)
        chosen = call_options(
            "create_multipart_upload",
            UPLOAD_OPTIONS,
            options,
            {"http_metadata": http_metadata, "custom_metadata": custom_metadata},
            worker_options,
        )
        extra = write_headers(as_http_metadata(chosen.get("http_metadata")), chosen.get("custom_metadata"))
        if tags:
            extra["Tagging"] = tagging(tags)
        return self._create_upload(key, extra)

    def resume_multipart_upload(self, key: str, upload_id: str) -> R2MultipartUpload:
        """The upload ``upload_id`` of ``key``, to add parts, complete or abort it (nothing is checked yet)."""
        KEY_RULES.check_key(key)
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
            if error_code(exc) != "NoSuchUpload":
                raise


def _include_fields(include: object) -> builtins.list[Include]:
    """``include`` as R2's field names (``httpMetadata``, ``customMetadata``; snake_case taken too)."""
    if isinstance(include, str) or not isinstance(include, Sequence):
        raise InvalidListOptions(f"include takes a sequence of {', '.join(INCLUDE_FIELDS)}, got {include!r}")
    spelled: builtins.list[Any] = [_INCLUDE_SPELLINGS.get(n, n) if isinstance(n, str) else n for n in include]
    if any(name not in INCLUDE_FIELDS for name in spelled):
        raise InvalidListOptions(f"include takes a sequence of {', '.join(INCLUDE_FIELDS)}, got {include!r}")
    return spelled


def encode_list_cursor(token: str, prefix: str | None, delimiter: str | None) -> str:
    """A list cursor holding S3's continuation token, for a list with this prefix and delimiter."""
    return LIST_CURSORS.encode(token, p=prefix or "", d=delimiter or "")


def decode_list_cursor(cursor: str, prefix: str | None, delimiter: str | None) -> str:
    """S3's continuation token from a cursor this binding issued for this prefix and delimiter (S3 decides
    whether it issued the token itself)."""
    return LIST_CURSORS.decode(cursor, p=prefix or "", d=delimiter or "")

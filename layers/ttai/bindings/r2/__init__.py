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
- Options come as the typed objects, as keywords, or as the plain mappings Worker code passes, in camelCase or
  snake_case (``get(key, {"range": {"offset": 0, "length": 10}, "onlyIf": {"etagMatches": e}})``); an unknown name
  is refused by name, and R2 options S3 cannot honour here (extra checksums, ``ssecKey``, a ``storageClass`` other
  than ``Standard``) are refused saying why (``worker_options``).
- An object stored without a content type reads back with S3's default, ``binary/octet-stream``.
- ``version`` is S3's version id (the bucket is versioned); objects listed without ``include`` carry the etag.
- An unsatisfiable range (an offset at or past the end, a range of an empty object) raises ``RangeNotSatisfiable``,
  as R2's binding throws (error 10039). A range S3 cannot express (zero bytes long) raises ``InvalidRange``.
- S3 throttling (SlowDown), a failing S3 or an unreachable endpoint raise ``Throttled`` / ``Unavailable``.

The package's modules: ``errors``; ``options`` (ranges, conditions, etags); ``metadata`` (HTTP and custom
metadata, tags); ``values`` (what put takes); ``objects`` (what reads return); ``worker_options`` (the option
mappings Worker code passes); ``bucket`` (``R2Bucket``, list cursors); ``multipart`` (``R2MultipartUpload``). Every
public name is importable from ``ttai.bindings.r2``.
"""

from ttai.bindings.r2.bucket import (
    DELETE_MAX_KEYS,
    INCLUDE_FIELDS,
    KEY_MAX_BYTES,
    KEY_RULES,
    LIST_CURSORS,
    LIST_LIMIT_MAX,
    PRESIGN_MAX_SECONDS,
    Include,
    R2Bucket,
)
from ttai.bindings.r2.errors import (
    InvalidCondition,
    InvalidKey,
    InvalidListOptions,
    InvalidMetadata,
    InvalidOption,
    InvalidPart,
    InvalidRange,
    KeyTooLong,
    MetadataTooLarge,
    NoSuchUpload,
    R2Error,
    RangeNotSatisfiable,
    TooManyKeys,
    UnknownListCursor,
    UnsupportedCondition,
    UnsupportedOption,
    UnsupportedValue,
    ValueTooLarge,
)
from ttai.bindings.r2.metadata import CUSTOM_METADATA_MAX_BYTES, S3_METADATA_MAX_BYTES, TAGS_MAX, R2HTTPMetadata
from ttai.bindings.r2.multipart import PART_MAX_BYTES, PART_MIN_BYTES, PART_NUMBER_MAX, R2MultipartUpload
from ttai.bindings.r2.objects import R2Checksums, R2Object, R2ObjectBody, R2Objects, R2UploadedPart, md5_etag
from ttai.bindings.r2.options import R2Conditional, R2Range
from ttai.bindings.r2.values import PUT_MAX_BYTES, STREAM_PART_BYTES, Body, Chunk, Value, part_count

__all__ = [
    "CUSTOM_METADATA_MAX_BYTES",
    "DELETE_MAX_KEYS",
    "INCLUDE_FIELDS",
    "KEY_MAX_BYTES",
    "KEY_RULES",
    "LIST_CURSORS",
    "LIST_LIMIT_MAX",
    "PART_MAX_BYTES",
    "PART_MIN_BYTES",
    "PART_NUMBER_MAX",
    "PRESIGN_MAX_SECONDS",
    "PUT_MAX_BYTES",
    "S3_METADATA_MAX_BYTES",
    "STREAM_PART_BYTES",
    "TAGS_MAX",
    "Body",
    "Chunk",
    "Include",
    "InvalidCondition",
    "InvalidKey",
    "InvalidListOptions",
    "InvalidMetadata",
    "InvalidOption",
    "InvalidPart",
    "InvalidRange",
    "KeyTooLong",
    "MetadataTooLarge",
    "NoSuchUpload",
    "R2Bucket",
    "R2Checksums",
    "R2Conditional",
    "R2Error",
    "R2HTTPMetadata",
    "R2MultipartUpload",
    "R2Object",
    "R2ObjectBody",
    "R2Objects",
    "R2Range",
    "R2UploadedPart",
    "RangeNotSatisfiable",
    "TooManyKeys",
    "UnknownListCursor",
    "UnsupportedCondition",
    "UnsupportedOption",
    "UnsupportedValue",
    "Value",
    "ValueTooLarge",
    "md5_etag",
    "part_count",
]

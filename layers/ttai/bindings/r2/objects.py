"""What R2 gives back: objects (with or without a body), list pages and uploaded parts, read from S3's responses.

An object stored without a content type reads back with S3's default, ``binary/octet-stream``. ``version`` is S3's
version id (the bucket is versioned); objects listed without ``include`` carry the etag.
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ttai.bindings.r2.errors import R2Error
from ttai.bindings.r2.metadata import R2HTTPMetadata, decode_custom, http_metadata_of
from ttai.bindings.r2.options import R2Range, unquote_etag


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


def object_from_response(key: str, response: Mapping[str, Any]) -> R2Object:
    etag = unquote_etag(response["ETag"])
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
        version=version_of(response, etag),
        size=total,
        etag=etag,
        uploaded=response["LastModified"].astimezone(UTC),
        http_metadata=http_metadata_of(response),
        custom_metadata=decode_custom(response.get("Metadata", {})),
        range=returned,
        checksums=checksums_of(etag),
        storage_class=storage_class_of(response.get("StorageClass")),
    )


def server_time(response: Mapping[str, Any]) -> datetime:
    """When S3 stored a PutObject (its response's Date, to the second: PutObject does not echo Last-Modified)."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    stored: datetime | None = None
    if date:
        try:
            stored = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            stored = None  # a malformed Date: fall back to this machine's clock
    return stored.astimezone(UTC) if stored else datetime.now(UTC).replace(microsecond=0)


def version_of(response: Mapping[str, Any], etag: str) -> str:
    version = response.get("VersionId")
    # An unversioned bucket reports "null" (or nothing): the etag is then the best identity of the upload.
    return str(version) if version and version != "null" else etag


def checksums_of(etag: str) -> R2Checksums:
    if "-" in etag or len(etag) != 32:
        return R2Checksums()
    try:
        return R2Checksums(md5=bytes.fromhex(etag))
    except ValueError:
        return R2Checksums()


def storage_class_of(value: str | None) -> str:
    return "InfrequentAccess" if value in {"STANDARD_IA", "ONEZONE_IA"} else "Standard"


def md5_etag(body: bytes) -> str:
    """The etag S3 gives a single-part upload of ``body`` (its MD5, hex)."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()

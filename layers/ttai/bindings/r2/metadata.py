"""HTTP and custom metadata: R2's shapes, checked and encoded as S3 stores them, and decoded on read.

Custom metadata keys keep their case and may hold any Unicode: S3 lowercases header names and takes ASCII, so key
characters outside ``[a-z0-9.-]`` are stored as ``_`` and hex digits, and value characters outside printable ASCII
percent-encoded. R2's 2,048-byte limit applies to the metadata as given, S3's 2 KB to the stored form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

from ttai.bindings.r2.errors import InvalidMetadata, MetadataTooLarge

CUSTOM_METADATA_MAX_BYTES = 2048
S3_METADATA_MAX_BYTES = 2048
TAGS_MAX = 10  # S3 object tags per object
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


@dataclass(frozen=True, slots=True)
class R2HTTPMetadata:
    content_type: str | None = None
    content_language: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    cache_control: str | None = None
    cache_expiry: datetime | None = None


def tagging(tags: Mapping[str, str]) -> str:
    if len(tags) > TAGS_MAX:
        raise InvalidMetadata(f"an object takes at most {TAGS_MAX} tags, got {len(tags)}")
    for name, value in tags.items():
        if not isinstance(name, str) or not isinstance(value, str) or not 1 <= len(name) <= 128 or len(value) > 256:
            raise InvalidMetadata("tag keys are 1-128 characters and values at most 256, both text")
    return urlencode(dict(tags))


def write_headers(http_metadata: R2HTTPMetadata | None, custom_metadata: Mapping[str, str] | None) -> dict[str, Any]:
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
        extra["Metadata"] = encode_custom(custom_metadata)
    return extra


def encode_custom(custom: Mapping[str, str]) -> dict[str, str]:
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


def decode_custom(stored: Mapping[str, str]) -> dict[str, str]:
    return {_unescape_name(name): unquote(value) for name, value in stored.items()}


def http_metadata_of(response: Mapping[str, Any]) -> R2HTTPMetadata:
    values: dict[str, Any] = {}
    for attr, param in _HTTP_FIELDS.items():
        value = response.get(param)
        if value is not None and value != "":
            values[attr] = value
    return R2HTTPMetadata(**values)

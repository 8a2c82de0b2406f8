"""What ``put`` and ``upload_part`` take: text, bytes, a binary file or an iterable of chunks, as bytes for S3."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import IO

from ttai.bindings.r2.errors import UnsupportedValue

PUT_MAX_BYTES = 5 * 1024**3 - 5 * 1024**2  # R2's single-request upload limit (5 GiB less 5 MiB)
STREAM_PART_BYTES = 8 * 1024**2  # what put() of a stream buffers before it starts a multipart upload

Value = str | bytes | bytearray | memoryview | None
Chunk = str | bytes | bytearray | memoryview
Body = Value | Iterable[Chunk] | IO[bytes]  # text, bytes, a stream of chunks, or a binary file


def encode_value(value: Value) -> bytes:
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


def value_chunks(value: object) -> Iterator[bytes]:
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


def part_count(size: int, part_size: int = STREAM_PART_BYTES) -> int:
    """How many parts put() uses for a stream of ``size`` bytes (1: a single PutObject)."""
    return max(1, math.ceil(size / part_size))

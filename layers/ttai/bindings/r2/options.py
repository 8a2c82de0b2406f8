"""R2's ``range`` and ``onlyIf`` as S3 request headers, and the etags they compare (quoted for HTTP, bare in R2).

S3 keeps upload times to the second, so the ``uploaded_*`` conditions are read to the second; S3 lets If-Match /
If-None-Match override the date conditions (RFC 9110) where R2 wants all of them, so a read checks the dates again
(``uploaded_ok``). A write can be conditional on etags only (``write_refused`` tells S3's refusal of one apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ttai.bindings.common import error_code, http_status
from ttai.bindings.r2.errors import InvalidCondition, InvalidRange


@dataclass(frozen=True, slots=True)
class R2Range:
    """Bytes of an object: ``offset`` (+ ``length``), ``length`` from the start, or the last ``suffix`` bytes."""

    offset: int | None = None
    length: int | None = None
    suffix: int | None = None


@dataclass(frozen=True, slots=True)
class R2Conditional:
    """R2's ``onlyIf``: every condition given must hold. Etags with or without quotes. ``seconds_granularity``
    compares upload times to the second (S3 keeps them to the second anyway; this truncates the given times too)."""

    etag_matches: str | None = None
    etag_does_not_match: str | None = None
    uploaded_before: datetime | None = None
    uploaded_after: datetime | None = None
    seconds_granularity: bool = False


def range_header(spec: R2Range) -> str:
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


def check_conditional(only_if: R2Conditional) -> None:
    if not isinstance(only_if, R2Conditional):
        raise InvalidCondition(f"only_if must be an R2Conditional, got {type(only_if).__name__}")
    for name in ("etag_matches", "etag_does_not_match"):
        value = getattr(only_if, name)
        if value is not None and (not isinstance(value, str) or not unquote_etag(value)):
            raise InvalidCondition(f"{name} must be a non-empty etag")
    for name in ("uploaded_before", "uploaded_after"):
        value = getattr(only_if, name)
        if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
            raise InvalidCondition(f"{name} must be a datetime with a time zone")
    if not isinstance(only_if.seconds_granularity, bool):
        raise InvalidCondition("seconds_granularity must be True or False")


def read_conditions(only_if: R2Conditional) -> dict[str, Any]:
    """S3 GetObject headers for ``only_if``. S3 keeps times to the second, so "uploaded before t" is "not
    modified since the last whole second before t" and "uploaded after t" is "modified since t's second"."""
    check_conditional(only_if)
    headers: dict[str, Any] = {}
    if only_if.etag_matches is not None:
        headers["IfMatch"] = quote_etag(only_if.etag_matches)
    if only_if.etag_does_not_match is not None:
        headers["IfNoneMatch"] = quote_etag(only_if.etag_does_not_match)
    if only_if.uploaded_before is not None:
        headers["IfUnmodifiedSince"] = _ceil_second(only_if.uploaded_before) - timedelta(seconds=1)
    if only_if.uploaded_after is not None:
        headers["IfModifiedSince"] = only_if.uploaded_after.astimezone(UTC).replace(microsecond=0)
    return headers


def uploaded_ok(only_if: R2Conditional, uploaded: datetime) -> bool:
    before, after = only_if.uploaded_before, only_if.uploaded_after
    if only_if.seconds_granularity:
        uploaded = uploaded.replace(microsecond=0)
        before = before.replace(microsecond=0) if before is not None else None
        after = after.replace(microsecond=0) if after is not None else None
    if before is not None and not uploaded < before:
        return False
    return after is None or uploaded > after


def _ceil_second(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    whole = utc.replace(microsecond=0)
    return whole if whole == utc else whole + timedelta(seconds=1)


def write_refused(exc: ClientError, guard: Mapping[str, str]) -> bool:
    """Whether S3 refused a conditional write because its condition failed (If-Match on a missing key is 404)."""
    if not guard:
        return False
    status, code = http_status(exc), error_code(exc)
    if status == 412 or code in {"PreconditionFailed", "ConditionalRequestConflict"}:
        return True
    return "IfMatch" in guard and (status == 404 or code == "NoSuchKey")


def quote_etag(etag: str) -> str:
    bare = unquote_etag(etag)
    return "*" if bare == "*" else f'"{bare}"'


def unquote_etag(etag: str) -> str:
    text = etag.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')

"""The option objects Worker code passes to R2, read into the binding's typed ones.

A Worker passes plain objects: ``get(key, {"range": {"offset": 0, "length": 10}, "onlyIf": {"etagMatches": e}})``,
``put(key, value, {"httpMetadata": {"contentType": "text/plain"}, "customMetadata": {...}})``. Here they may come as
that mapping, as keywords (``only_if=``, or Cloudflare's ``onlyIf=`` as Python Workers pass them), in camelCase or
snake_case, or as the typed objects (``R2Range``, ``R2Conditional``, ``R2HTTPMetadata``). A name R2 does not define is
an ``InvalidOption`` naming it. R2 options S3 cannot honour here raise ``UnsupportedOption`` saying why: the extra
checksums and ``ssecKey`` (the binding sends neither to S3), a ``storageClass`` other than ``Standard`` (storage
classes are the bucket's lifecycle rules), and ``Headers`` for ``onlyIf`` / ``httpMetadata`` (pass the object form).
Custom metadata keys are the caller's own data: they are never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ttai.bindings import common
from ttai.bindings.r2.errors import InvalidCondition, InvalidMetadata, InvalidOption, InvalidRange, UnsupportedOption
from ttai.bindings.r2.metadata import R2HTTPMetadata
from ttai.bindings.r2.options import R2Conditional, R2Range

GET_OPTIONS = ("range", "only_if", "ssec_key")
PUT_OPTIONS = (
    "http_metadata",
    "custom_metadata",
    "only_if",
    "md5",
    "sha1",
    "sha256",
    "sha384",
    "sha512",
    "storage_class",
    "ssec_key",
)
UPLOAD_OPTIONS = ("http_metadata", "custom_metadata", "storage_class", "ssec_key")
LIST_OPTIONS = ("prefix", "delimiter", "cursor", "limit", "include", "start_after")
RANGE_FIELDS = ("offset", "length", "suffix")
CONDITION_FIELDS = ("etag_matches", "etag_does_not_match", "uploaded_before", "uploaded_after", "seconds_granularity")
HTTP_METADATA_FIELDS = (
    "content_type",
    "content_language",
    "content_disposition",
    "content_encoding",
    "cache_control",
    "cache_expiry",
)
STANDARD_STORAGE_CLASS = "Standard"
_UNSUPPORTED = {
    "ssec_key": "customer-provided encryption keys (SSE-C) are not sent to S3; the bucket encrypts every object",
    "md5": "the binding does not send checksums to S3 (its etag is the MD5 of a single-part upload; compare that)",
    "sha1": "the binding does not send SHA checksums to S3",
    "sha256": "the binding does not send SHA checksums to S3",
    "sha384": "the binding does not send SHA checksums to S3",
    "sha512": "the binding does not send SHA checksums to S3",
}


def call_options(call: str, names: tuple[str, ...], *given: Mapping[str, Any] | None) -> dict[str, Any]:
    """One call's options by snake_case name, from the Worker's mapping and the keywords; unknown names refused, and
    options R2 has that this binding cannot honour refused with the reason."""
    chosen = common.worker_options(call, names, *given, error=InvalidOption)
    for name, reason in _UNSUPPORTED.items():
        if name in chosen:
            raise UnsupportedOption(f"{call}: option {common.camel_case(name)} is not supported here: {reason}")
    storage_class = chosen.pop("storage_class", STANDARD_STORAGE_CLASS)
    if storage_class != STANDARD_STORAGE_CLASS:
        raise UnsupportedOption(
            f"{call}: storageClass {storage_class!r} is not supported here: every object is written as "
            f"{STANDARD_STORAGE_CLASS!r} and moves to colder S3 storage by the bucket's lifecycle rules"
        )
    return chosen


def as_range(value: R2Range | Mapping[str, Any] | None) -> R2Range | None:
    """``range`` as an ``R2Range``: the typed object, or ``{"offset", "length"}`` / ``{"suffix"}``."""
    if value is None or isinstance(value, R2Range):
        return value
    if not isinstance(value, Mapping):
        raise InvalidRange(
            f"range must be an R2Range or a mapping of offset, length, suffix; got {type(value).__name__}"
        )
    fields = common.worker_options("range", RANGE_FIELDS, value, error=InvalidOption)
    return R2Range(**fields)


def as_conditional(value: R2Conditional | Mapping[str, Any] | None) -> R2Conditional | None:
    """``onlyIf`` as an ``R2Conditional``: the typed object, or ``{"etagMatches", "etagDoesNotMatch",
    "uploadedBefore", "uploadedAfter", "secondsGranularity"}`` in either casing."""
    if value is None or isinstance(value, R2Conditional):
        return value
    if not isinstance(value, Mapping):
        raise InvalidCondition(
            f"onlyIf must be an R2Conditional or a mapping (Headers are not supported here), got {type(value).__name__}"
        )
    fields = common.worker_options("onlyIf", CONDITION_FIELDS, value, error=InvalidOption)
    return R2Conditional(**fields)


def as_http_metadata(value: R2HTTPMetadata | Mapping[str, Any] | None) -> R2HTTPMetadata | None:
    """``httpMetadata`` as an ``R2HTTPMetadata``: the typed object, or ``{"contentType", ...}`` in either casing."""
    if value is None or isinstance(value, R2HTTPMetadata):
        return value
    if not isinstance(value, Mapping):
        raise InvalidMetadata(
            f"httpMetadata must be an R2HTTPMetadata or a mapping (Headers are not supported here), "
            f"got {type(value).__name__}"
        )
    fields = common.worker_options("httpMetadata", HTTP_METADATA_FIELDS, value, error=InvalidOption)
    return R2HTTPMetadata(**fields)

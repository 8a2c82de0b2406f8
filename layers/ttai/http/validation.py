"""Validation of inputs the resolver cannot type by itself (comma lists, normalized symbols, unreadable bodies)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


def parse(adapter: TypeAdapter[T], value: Any, loc: tuple[str, ...]) -> T:
    """``value`` validated by ``adapter``; errors carry ``loc`` so the 422 names the field."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        errors = [{**e, "loc": (*loc, *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


def load_json_body(text: str) -> Any:
    """json.loads for request bodies: input it cannot represent is a decode error (a 422), never a 500.

    Python's parser raises RecursionError for very deep nesting and ValueError for integers of more than 4300
    digits; the resolver only turns JSONDecodeError into a validation error.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        raise json.JSONDecodeError(f"unreadable JSON: {type(exc).__name__}", text[:64], 0) from exc


# The methods whose routes read a request body.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The largest request body any route takes (PUT /api/v1/bars' 2,000 bars are about a fifth of it). A larger one is
# refused by its length, before it is decoded or parsed: Lambda would accept up to 6 MB of it.
BODY_MAX_BYTES = 1_048_576


def unreadable_body(event: Mapping[str, Any]) -> tuple[HTTPStatus, str] | None:
    """Why this API Gateway event's body cannot be read as JSON, for the cases Powertools fails on with a 500.

    Its request validation decodes a base64 body (API Gateway's form for bytes that are not UTF-8) as strict
    UTF-8, and its multipart parser raises ValueError for a multipart content type without a boundary; neither
    reaches the error mapping. This API reads JSON bodies only.
    """
    headers = event.get("headers") or {}
    content_type = str(next((v for k, v in headers.items() if k.lower() == "content-type"), ""))
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    if method in BODY_METHODS and content_type.strip().lower().startswith("multipart/"):
        return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"this API reads application/json bodies, not {content_type}"
    body = event.get("body")
    if body:
        # A base64 body's bytes are three quarters of its characters (padding aside). Text is at least as many
        # bytes as characters, so an oversized one is refused without being encoded to measure it.
        encoded = bool(event.get("isBase64Encoded"))
        size = len(body) * 3 // 4 if encoded else len(body)
        if not encoded and size <= BODY_MAX_BYTES:
            size = len(body.encode("utf-8"))
        if size > BODY_MAX_BYTES:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request body is over {BODY_MAX_BYTES:,} bytes"
    if body and event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            return HTTPStatus.UNPROCESSABLE_ENTITY, "the request body is not UTF-8 text, so it is not JSON"
    return None

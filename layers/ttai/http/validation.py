"""Validation of inputs the resolver cannot type by itself (comma lists, normalized symbols)."""

from __future__ import annotations

import json
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

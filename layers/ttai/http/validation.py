"""Validation of inputs the resolver cannot type by itself (comma lists, normalized symbols)."""

from __future__ import annotations

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

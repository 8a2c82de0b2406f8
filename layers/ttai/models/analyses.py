"""Analyses as the API takes and gives them, and the bounded JSON documents they (and screeners) carry."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from ttai.models.base import Output, Strict
from ttai.models.market import Symbol
from ttai.models.text import Identifier
from ttai.models.times import StoredInstant

# The Data API returns rows of at most 64 KB, so an analysis row (result, params and a few short columns) must
# stay under it as PostgreSQL prints it; sizes are measured as jsonb text (see ``jsonb_text_size``).
RESULT_MAX_BYTES = 48 * 1024
PARAMS_MAX_BYTES = 8 * 1024
DOCUMENT_MAX_DEPTH = 64

AnalysisType = Literal["chart", "options", "research", "full"]
Recommendation = Literal["select", "reject", "neutral"]
WorkflowId = Annotated[Identifier, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]


def _scalar_size(value: Any) -> int:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("strings in a document cannot hold NUL characters")  # jsonb refuses them
        try:
            return len(json.dumps(value, ensure_ascii=False).encode())
        except UnicodeEncodeError as exc:  # a lone surrogate such as "\ud800", which jsonb refuses too
            raise ValueError("strings in a document must be valid Unicode") from exc
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers in a document must be finite (no NaN or Infinity)")
        # jsonb keeps numbers as numeric and prints them without an exponent: 1e300 comes back as 301 digits.
        return len(format(Decimal(repr(value)), "f"))
    return len(json.dumps(value))  # int, bool, None


def jsonb_text_size(document: Any) -> int:
    """The bytes PostgreSQL prints for ``document`` as jsonb (``{"a": 1, "b": [2, 3]}``), or ValueError for what
    jsonb refuses (NUL, lone surrogates, NaN, Infinity) or nesting deeper than DOCUMENT_MAX_DEPTH."""
    size = 0
    # Iterative, so a deeply nested document is refused here rather than by a RecursionError.
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > DOCUMENT_MAX_DEPTH:
                raise ValueError(f"a document nests at most {DOCUMENT_MAX_DEPTH} levels deep")
            size += 2 + 2 * max(len(value) - 1, 0)  # brackets, and ", " between members
            if isinstance(value, dict):
                size += sum(_scalar_size(key) + 2 for key in value)  # each key and its ": "
                pending += [(item, depth + 1) for item in value.values()]
            else:
                pending += [(item, depth + 1) for item in value]
        else:
            size += _scalar_size(value)
    return size


def bounded_document(max_bytes: int) -> AfterValidator:
    """A JSON document that jsonb takes as is, at most ``max_bytes`` as PostgreSQL prints it."""

    def check(document: Any) -> Any:
        size = jsonb_text_size(document)
        if size > max_bytes:
            raise ValueError(f"a document is at most {max_bytes} bytes of JSON as stored, got {size}")
        return document

    return AfterValidator(check)


class AnalysisIn(Strict):
    symbol: Symbol
    type: AnalysisType
    params: Annotated[dict[str, Any], bounded_document(PARAMS_MAX_BYTES)] | None = None
    result: Annotated[dict[str, Any], bounded_document(RESULT_MAX_BYTES)]
    recommendation: Recommendation | None = None
    workflow_id: WorkflowId | None = None


class Analysis(Output):
    id: int
    symbol: str
    type: str
    params: dict[str, Any] | None
    result: dict[str, Any]
    recommendation: str | None
    workflow_id: str | None
    created_at: StoredInstant

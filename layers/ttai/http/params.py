"""The request parameters routes share, declared once with their limits: page size and cursor, row ids, names and
symbols in paths, symbol lists and filters, date ranges. A route's own filters (a status, a job type) stay with it.

Light on purpose: every route module imports it, so it imports no model or service module at import time (the symbol
types load with the first request that parses one).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Annotated, TypeVar
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import TypeAdapter

from ttai.http.validation import parse

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.params import Param

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
SYMBOL_MAX_CHARS = 64  # a ticker, an OCC option symbol, or a future's, with room to spare
# A list's page: ``limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None``.
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=512)]  # every cursor ttai.cursors issues for a row position fits
# The exports list's cursor wraps the R2 binding's (S3's continuation token), which an object key makes longer.
StorageCursor = Annotated[str | None, Query(max_length=2048)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a row's id (a bigint) in a path
SymbolPath = Annotated[
    str, Path(max_length=SYMBOL_MAX_CHARS, description="ticker or OCC option symbol", examples=["AAPL"])
]


def name_path(description: str | None = None) -> Param:
    """The path parameter of a name (still percent-encoded: ``path_text`` reads it)."""
    return Path(max_length=300, description=description)


NamePath = Annotated[str, name_path()]


def symbol_filter(description: str | None = None) -> Param:
    """The query parameter of an optional one-symbol filter (``symbol_value`` reads it)."""
    return Query(max_length=SYMBOL_MAX_CHARS, description=description)


def symbols_query(most: int) -> Param:
    """The query parameter of a comma-separated list of up to ``most`` symbols (``symbol_list`` reads it)."""
    return Query(max_length=most * 22, description="comma-separated symbols", examples=["AAPL,MSFT"])


@cache
def _symbol() -> TypeAdapter[str]:
    from ttai.models.market import Symbol  # noqa: PLC0415 - see the module docstring

    return TypeAdapter(Symbol)


@cache
def _symbols() -> TypeAdapter[list[str]]:
    from ttai.models.market import SymbolList  # noqa: PLC0415 - see the module docstring

    return TypeAdapter(SymbolList)


def path_text(adapter: TypeAdapter[T], raw: str, name: str) -> T:
    """A path parameter decoded (API Gateway hands it percent-encoded) and validated by ``adapter``; a 422 naming
    it otherwise."""
    return parse(adapter, unquote(raw), ("path", name))


def symbol_path(raw: str) -> str:
    """The symbol of a ``SymbolPath``, normalized."""
    return path_text(_symbol(), raw, "symbol")


def symbol_value(raw: str | None, name: str = "symbol") -> str | None:
    """The symbol of a ``symbol_filter`` query parameter, normalized; None when none was given."""
    return None if raw is None else parse(_symbol(), raw, ("query", name))


def symbol_list(raw: str, name: str = "symbols") -> list[str]:
    """The symbols of a ``symbols_query`` parameter, normalized and checked."""
    return parse(_symbols(), raw, ("query", name))


def date_range(since: date | None, until: date | None, names: tuple[str, str]) -> None:
    """A 422 naming the second of ``names`` (the query parameters of ``since`` and ``until``) when it is before the
    first; an open end is never out of order."""
    if since is not None and until is not None and since > until:
        first, second = names
        raise RequestValidationError(
            [{"loc": ("query", second), "msg": f"'{second}' is before '{first}'", "type": "date_range"}]
        )

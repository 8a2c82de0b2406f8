"""Result rows as the Data API returns them: each value a typed ``Field`` (or JSON for ``formatRecordsAs``), only the
types the service can return, within its size limits."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import pq

from local.data_api.errors import DataApiError
from local.data_api.times import data_api_datetime


@dataclass(frozen=True, slots=True)
class PgType:
    """What the encoder needs to know of a PostgreSQL type (from ``pg_type``)."""

    oid: int
    name: str
    kind: str = "b"  # typtype: b base, e enum, d domain, c composite, r range, p pseudo
    element: PgType | None = None  # for arrays


@dataclass(frozen=True, slots=True)
class ResultOptions:
    """``resultSetOptions``: how DECIMAL (numeric) and LONG (integer) values come back."""

    decimal_as_number: bool = False  # DOUBLE_OR_LONG
    long_as_string: bool = False  # longReturnType STRING

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> ResultOptions:
        options = request.get("resultSetOptions") or {}
        return cls(
            decimal_as_number=options.get("decimalReturnType") == "DOUBLE_OR_LONG",
            long_as_string=options.get("longReturnType") == "STRING",
        )


_LONG_TYPES = frozenset({"int2", "int4", "int8", "oid"})
_DOUBLE_TYPES = frozenset({"float4", "float8"})
# Returned as PostgreSQL's text for the type (dates and timestamps as the service prints them, in UTC).
_STRING_TYPES = frozenset(
    {
        "text",
        "varchar",
        "bpchar",
        "name",
        "numeric",
        "date",
        "time",
        "timetz",
        "timestamp",
        "timestamptz",
        "uuid",
        "json",
        "jsonb",
        "inet",
        "cidr",
        "vector",
        "void",  # functions called for their effect (pg_sleep, pg_advisory_xact_lock): an empty string
    }
)
_ARRAY_ELEMENT_EXCLUDED = frozenset({"bytea"})
# Printed as Java prints them (local.data_api.times), not as PostgreSQL does.
_DATETIME_TYPES = frozenset({"date", "timestamp", "timestamptz"})


def unsupported_type(pg_type: PgType) -> str | None:
    """Why the Data API cannot return a column of this type (None when it can)."""
    if pg_type.element is not None:
        element = pg_type.element
        if unsupported_type(element) is not None or element.name in _ARRAY_ELEMENT_EXCLUDED:
            return f"The result contains an unsupported data type: {pg_type.name}"
        return None
    if pg_type.kind == "e" or pg_type.name in _LONG_TYPES | _DOUBLE_TYPES | _STRING_TYPES | {"bool", "bytea"}:
        return None
    return f"The result contains an unsupported data type: {pg_type.name}"


def encode_value(text: str | None, pg_type: PgType, options: ResultOptions | None = None) -> dict[str, Any]:  # noqa: PLR0911 - one case per type
    """A value in PostgreSQL's text output as a Data API ``Field``."""
    options = options or ResultOptions()
    if text is None:
        return {"isNull": True}
    name = pg_type.name
    if pg_type.element is not None:
        return {"arrayValue": encode_array(text, pg_type.element, options)}
    if name == "bool":
        return {"booleanValue": text == "t"}
    if name in _LONG_TYPES:
        return {"stringValue": text} if options.long_as_string else {"longValue": int(text)}
    if name in _DOUBLE_TYPES:
        return {"doubleValue": float(text)}
    if name == "bytea":
        return {"blobValue": base64.b64encode(bytes.fromhex(text[2:])).decode("ascii")}
    if name == "numeric" and options.decimal_as_number:
        return {"longValue": int(text)} if re.fullmatch(r"-?\d+", text) else {"doubleValue": float(text)}
    if name in _DATETIME_TYPES:
        return {"stringValue": data_api_datetime(text, with_time=name != "date")}
    return {"stringValue": text}


def encode_array(text: str, element: PgType, options: ResultOptions) -> dict[str, Any]:
    items = parse_array_literal(text)
    name = element.name
    if name == "bool":
        return {"booleanValues": [None if v is None else v == "t" for v in items]}
    if name in _LONG_TYPES and not options.long_as_string:
        return {"longValues": [None if v is None else int(v) for v in items]}
    if name in _DOUBLE_TYPES:
        return {"doubleValues": [None if v is None else float(v) for v in items]}
    if name in _DATETIME_TYPES:
        items = [None if v is None else data_api_datetime(v, with_time=name != "date") for v in items]
    return {"stringValues": items}


def parse_array_literal(text: str) -> list[str | None]:
    """The elements of a one-dimensional PostgreSQL array in text form (``{a,"b c",NULL}``)."""
    if "=" in text and text.startswith("["):
        text = text.split("=", 1)[1]  # explicit bounds: [0:1]={...}
    if text.startswith("{{"):
        raise DataApiError("UnsupportedResultException", "The result contains a multidimensional array")
    body = text[1:-1]
    items: list[str | None] = []
    i, n = 0, len(body)
    while i < n:
        if body[i] == '"':
            chars: list[str] = []
            i += 1
            while i < n and body[i] != '"':
                if body[i] == "\\":
                    i += 1
                chars.append(body[i])
                i += 1
            items.append("".join(chars))
            i += 2  # closing quote and comma
        else:
            end = body.find(",", i)
            end = n if end < 0 else end
            item = body[i:end]
            items.append(None if item == "NULL" else item)
            i = end + 1
    return items


def field_as_json(value: Mapping[str, Any]) -> Any:
    """A ``Field`` as the plain JSON value ``formattedRecords`` holds."""
    if value.get("isNull"):
        return None
    if "arrayValue" in value:
        return next(iter(value["arrayValue"].values()))
    return next(iter(value.values()))


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    typmod: int
    table_oid: int
    table_column: int


@dataclass(slots=True)
class Outcome:
    """One statement's result as PostgreSQL sent it (text format)."""

    columns: list[Column] | None  # None: the statement returns no rows
    rows: list[list[str | None]]
    updated: int


def read_rows(result: pq.abc.PGresult, *, row_limit: int, response_limit: int) -> list[list[str | None]]:
    """The rows of a result in text form; ``UnsupportedResultException`` for a row or a result over its limit."""
    rows: list[list[str | None]] = []
    total = 0
    for r in range(result.ntuples):
        raw = [result.get_value(r, c) for c in range(result.nfields)]
        size = sum(len(v) for v in raw if v is not None)
        if size > row_limit:
            raise DataApiError(
                "UnsupportedResultException",
                f"Packet for query is too large: row {r + 1} is {size} bytes; the limit is {row_limit}",
            )
        total += size
        if total > response_limit:
            raise DataApiError(
                "UnsupportedResultException",
                f"Database response exceeded size limit: the result is over the response size limit of "
                f"{response_limit} bytes; select less or paginate with LIMIT",
            )
        rows.append([None if v is None else bytes(v).decode() for v in raw])
    return rows

"""The RDS Data API on one machine: an HTTP endpoint that speaks the ``rds-data`` protocol over a real PostgreSQL.

boto3 reaches it through ``endpoint_url`` (or ``AWS_ENDPOINT_URL_RDS_DATA``), so the Data API client that runs
against Aurora Serverless v2 is the code that runs in tests and in ``make dev``. It follows the service's
documented behaviour for Aurora PostgreSQL (Serverless v2 / provisioned): request validation against botocore's
model, ``:name`` parameters with typed values and type hints, result encodings and column metadata, JSON result
sets, error shapes (SQL errors as ``DatabaseErrorException`` carrying PostgreSQL's message and SQLSTATE),
transactions that expire after three idle minutes or abort on an error, atomic batches, the 1 MiB response limit
and the statement timeout.

Where the documentation leaves a gap, this module is strict rather than lenient (it fails loudly), and says so
where it decides: see ``LocalDataApi``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import secrets
import threading
import time
import traceback
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import botocore.session
import psycopg
from botocore.model import ListShape, Shape, StringShape, StructureShape
from psycopg import pq
from psycopg.adapt import AdaptersMap, Dumper

from local.data_api_times import data_api_datetime
from local.service import Service

# Documented limits and timings of the Data API.
RESPONSE_LIMIT = 1024 * 1024  # bytes of result data one call may return
ROW_LIMIT = 64 * 1024  # bytes of one result row
FORMATTED_RECORDS_LIMIT = 10 * 1000 * 1000  # characters of formattedRecords
REQUEST_LIMIT = 4 * 1024 * 1024  # bytes of one HTTP request
STATEMENT_TIMEOUT = 45.0  # seconds before a call is cancelled
TRANSACTION_IDLE_TIMEOUT = 180.0  # seconds a transaction may go unused before it is rolled back
TRANSACTION_MAX_AGE = 24 * 3600.0  # seconds a transaction may live at all

ROUTES: dict[str, str] = {
    "/Execute": "ExecuteStatement",
    "/BatchExecute": "BatchExecuteStatement",
    "/BeginTransaction": "BeginTransaction",
    "/CommitTransaction": "CommitTransaction",
    "/RollbackTransaction": "RollbackTransaction",
}
_RESUMABLE = frozenset({"ExecuteStatement", "BatchExecuteStatement", "BeginTransaction"})
_SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres"
_MAX_REMEMBERED_ENDINGS = 10_000
_T = TypeVar("_T")
Connection = psycopg.Connection[Any]


class DataApiError(Exception):
    """An error response: the model's error shape (``BadRequestException`` ...), its message and extra members."""

    def __init__(self, shape: str, message: str, **members: Any) -> None:
        super().__init__(message)
        self.shape = shape
        self.message = message
        self.members = members


@functools.cache
def service_model() -> Any:
    """botocore's ``rds-data`` model: the request shapes we validate against and the errors' HTTP statuses."""
    return botocore.session.get_session().get_service_model("rds-data")


def error_status(shape: str) -> int:
    if shape == "UnknownOperationException":
        return 404
    model_shape = service_model().shape_for(shape)
    return int(model_shape.metadata.get("error", {}).get("httpStatusCode", 400))


# ------------------------------------------------------------------ request validation


def validate_request(operation: str, request: Any) -> list[str]:
    """What is wrong with ``request`` (decoded JSON) for ``operation``'s input shape; empty when it conforms.

    Checks what the model declares: required members, member names, JSON types, one member per union, string
    lengths, enum values and base64 for blobs. Unknown members are reported too (the service would ignore them;
    here a misspelt option is a bug worth failing on).
    """
    problems: list[str] = []
    _validate(service_model().operation_model(operation).input_shape, request, "", problems)
    return problems


def _validate(shape: Shape, value: Any, path: str, problems: list[str]) -> None:  # noqa: PLR0912 - a case per type
    where = path or "request"
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object")
            return
        members: Mapping[str, Shape] = shape.members
        problems.extend(f"{_member(path, key)}: unknown member" for key in value if key not in members)
        if shape.metadata.get("union"):
            chosen = [key for key, item in value.items() if item is not None and key in members]
            if len(chosen) != 1:
                problems.append(f"{where}: exactly one of {', '.join(members)} must be set, found {len(chosen)}")
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(f"{_member(path, name)}: required member is missing")
        for key, item in value.items():
            if key in members and item is not None:
                _validate(members[key], item, _member(path, key), problems)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list")
            return
        for index, item in enumerate(value):
            if item is None and shape.member.type_name not in {"structure", "list"}:
                continue  # the array shapes document null elements
            _validate(shape.member, item, f"{where}[{index}]", problems)
    elif isinstance(shape, StringShape):
        _validate_string(shape, value, where, problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean")
    elif kind in {"integer", "long"}:
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            problems.append(f"{where}: expected a 64-bit integer")
    elif kind in {"double", "float"}:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}: expected a number")
    elif kind == "blob" and (not isinstance(value, str) or _b64decode(value) is None):
        problems.append(f"{where}: expected base64-encoded bytes")


def _validate_string(shape: StringShape, value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string")
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        problems.append(f"{where}: length {len(value)} is below the minimum of {low}")
    if high is not None and len(value) > high:
        problems.append(f"{where}: length {len(value)} is above the maximum of {high}")
    enum = shape.enum
    if enum and value not in enum:
        problems.append(f"{where}: {value!r} is not one of {', '.join(enum)}")


def _member(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# ------------------------------------------------------------------ SQL text: named parameters

_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")
_NAME_IN_BODY = re.compile(r"(?<![:\w]):([A-Za-z0-9_]+)")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")


@dataclass(frozen=True, slots=True)
class NamedSql:
    """SQL whose ``:name`` parameters became PostgreSQL's ``$1, $2, ...`` (``names[i]`` is ``$(i+1)``)."""

    text: str
    names: tuple[str, ...]
    statements: int  # non-empty statements separated by semicolons
    dollar_quoted_names: frozenset[str]  # ``:name`` written inside dollar-quoted strings, left as they are


def parse_named_sql(sql: str) -> NamedSql:
    """Replace ``:name`` outside string literals, quoted identifiers, comments and dollar quotes; keep ``::``."""
    out: list[str] = []
    order: dict[str, int] = {}
    dollar_names: set[str] = set()
    statements = 0
    pending = False  # the current statement has content
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        following = sql[i + 1] if i + 1 < n else ""
        if char.isspace():
            out.append(char)
            i += 1
            continue
        if char == "-" and following == "-":
            end = sql.find("\n", i)
            end = n if end < 0 else end
        elif char == "/" and following == "*":
            end = _block_comment_end(sql, i)
        elif char == ";":
            statements += pending
            pending = False
            end = i + 1
        else:
            pending = True
            if char == "'":
                end = _quoted_end(sql, i, "'", backslash_escapes=_is_escape_string(sql, i))
            elif char == '"':
                end = _quoted_end(sql, i, '"', backslash_escapes=False)
            elif char == "$" and not (i > 0 and _is_identifier_char(sql[i - 1])) and (tag := _DOLLAR_TAG.match(sql, i)):
                close = sql.find(tag.group(0), tag.end())
                body_end = n if close < 0 else close
                dollar_names.update(_NAME_IN_BODY.findall(sql, tag.end(), body_end))
                end = n if close < 0 else close + len(tag.group(0))
            elif char == ":" and following == ":":
                end = i + 2
            elif char == ":" and (name := _PARAMETER_NAME.match(sql, i + 1)):
                position = order.setdefault(name.group(0), len(order) + 1)
                out.append(f"${position}")
                i = name.end()
                continue
            else:
                end = i + 1
        out.append(sql[i:end])
        i = end
    statements += pending
    return NamedSql("".join(out), tuple(order), statements, frozenset(dollar_names))


def _is_identifier_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _is_escape_string(sql: str, quote_at: int) -> bool:
    """An ``E'...'`` literal, where backslashes escape (in plain literals they are ordinary characters)."""
    return quote_at > 0 and sql[quote_at - 1] in "eE" and not (quote_at > 1 and _is_identifier_char(sql[quote_at - 2]))


def _quoted_end(sql: str, start: int, quote: str, *, backslash_escapes: bool) -> int:
    i, n = start + 1, len(sql)
    while i < n:
        char = sql[i]
        if backslash_escapes and char == "\\":
            i += 2
            continue
        if char == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _block_comment_end(sql: str, start: int) -> int:
    depth, i, n = 1, start + 2, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


# ------------------------------------------------------------------ parameters


class _Typed:
    """A parameter in PostgreSQL's text format; the subclass says which type the Data API binds it as."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Varchar(_Typed):
    __slots__ = ()


class _Int8(_Typed):
    __slots__ = ()


class _Float8(_Typed):
    __slots__ = ()


class _Bool(_Typed):
    __slots__ = ()


class _Bytea(_Typed):
    __slots__ = ()


class _Date(_Typed):
    __slots__ = ()


class _Time(_Typed):
    __slots__ = ()


class _Timestamp(_Typed):
    __slots__ = ()


class _Numeric(_Typed):
    __slots__ = ()


class _Uuid(_Typed):
    __slots__ = ()


class _Json(_Typed):
    __slots__ = ()


# A string is bound as varchar, as the service does: a jsonb column then needs typeHint JSON, as it does there.
_PARAMETER_TYPES: dict[type[_Typed], str] = {
    _Varchar: "varchar",
    _Int8: "int8",
    _Float8: "float8",
    _Bool: "bool",
    _Bytea: "bytea",
    _Date: "date",
    _Time: "time",
    _Timestamp: "timestamp",
    _Numeric: "numeric",
    _Uuid: "uuid",
    _Json: "json",
}
_HINTED: dict[str, type[_Typed]] = {
    "DATE": _Date,
    "TIME": _Time,
    "TIMESTAMP": _Timestamp,
    "DECIMAL": _Numeric,
    "UUID": _Uuid,
    "JSON": _Json,
}
# The formats the documentation gives for the hinted strings.
_HINT_FORMATS: dict[str, re.Pattern[str]] = {
    "DATE": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "TIME": re.compile(r"\d{2}:\d{2}:\d{2}(\.\d{1,9})?"),
    "TIMESTAMP": re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?"),
}


def _dumper(type_name: str) -> type[Dumper]:
    class TypedDumper(Dumper):
        oid = psycopg.postgres.types[type_name].oid

        def dump(self, obj: Any) -> bytes:
            text: str = obj.text
            return text.encode()

    return TypedDumper


@functools.cache
def _adapters() -> AdaptersMap:
    adapters = AdaptersMap(psycopg.adapters)
    for cls, type_name in _PARAMETER_TYPES.items():
        adapters.register_dumper(cls, _dumper(type_name))
    return adapters


def bind_parameters(named: NamedSql, parameters: Sequence[Mapping[str, Any]]) -> list[_Typed | None]:
    """The values for ``$1, $2, ...`` from Data API ``SqlParameter``s (a later parameter of the same name wins)."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for index, parameter in enumerate(parameters):
        name = parameter.get("name")
        if not name:
            raise DataApiError("BadRequestException", f"parameters[{index}]: a parameter needs a name")
        if parameter.get("value") is None:
            raise DataApiError("BadRequestException", f"parameter {name!r} has no value")
        by_name[name] = parameter
    hidden = sorted(named.dollar_quoted_names & by_name.keys())
    if hidden:
        # The service substitutes these inside dollar quotes too, silently changing the string's text.
        raise DataApiError(
            "BadRequestException",
            f"parameter(s) {', '.join(':' + n for n in hidden)} appear inside a dollar-quoted string, where the "
            "Data API would replace them as well; move them out of the quoted body or rename them",
        )
    values: list[_Typed | None] = []
    for name in named.names:
        if name not in by_name:
            raise DataApiError("DatabaseErrorException", f"No value specified for parameter :{name}.; SQLState: 22023")
        values.append(typed_value(by_name[name]))
    return values


def typed_value(parameter: Mapping[str, Any]) -> _Typed | None:  # noqa: PLR0911 - one case per Field member
    """One ``SqlParameter`` as the typed value PostgreSQL receives."""
    name, value, hint = parameter["name"], parameter["value"], parameter.get("typeHint")
    if value.get("isNull") is not None:
        if value["isNull"] is not True:
            raise DataApiError("BadRequestException", f"parameter {name!r}: isNull must be true when given")
        return None
    if "booleanValue" in value:
        return _Bool("true" if value["booleanValue"] else "false")
    if "longValue" in value:
        return _Int8(str(value["longValue"]))
    if "doubleValue" in value:
        return _Float8(repr(float(value["doubleValue"])))
    if "blobValue" in value:
        data = _b64decode(value["blobValue"])
        assert data is not None  # validated
        return _Bytea("\\x" + data.hex())
    if "arrayValue" in value:
        raise DataApiError("BadRequestException", f"parameter {name!r}: array parameters are not supported")
    text: str = value["stringValue"]
    if "\x00" in text:
        raise DataApiError(
            "DatabaseErrorException", 'ERROR: invalid byte sequence for encoding "UTF8": 0x00; SQLState: 22021'
        )
    if hint is None:
        return _Varchar(text)
    pattern = _HINT_FORMATS.get(hint)
    if pattern is not None and not pattern.fullmatch(text):
        raise DataApiError(
            "BadRequestException",
            f"parameter {name!r}: {text!r} is not in the format typeHint {hint} accepts ({pattern.pattern})",
        )
    return _HINTED[hint](text)


# ------------------------------------------------------------------ results


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
# Printed as Java prints them (local.data_api_times), not as PostgreSQL does.
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
        return {"arrayValue": _encode_array(text, pg_type.element, options)}
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


def _encode_array(text: str, element: PgType, options: ResultOptions) -> dict[str, Any]:
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


_JDBC_TYPES: dict[str, int] = {
    "bool": -7,
    "int2": 5,
    "int4": 4,
    "int8": -5,
    "oid": -5,
    "float4": 7,
    "float8": 8,
    "numeric": 2,
    "bpchar": 1,
    "varchar": 12,
    "text": 12,
    "name": 12,
    "bytea": -2,
    "date": 91,
    "time": 92,
    "timetz": 92,
    "timestamp": 93,
    "timestamptz": 93,
}
_JDBC_OTHER, _JDBC_ARRAY = 1111, 2003
_UNBOUNDED = 2147483647
_CASE_INSENSITIVE = frozenset(
    {"oid", "int2", "int4", "int8", "float4", "float8", "numeric", "bool", "date", "time", "timetz"}
    | {"timestamp", "timestamptz"}
)
_SIGNED = frozenset({"int2", "int4", "int8", "float4", "float8", "numeric"})
_SERIAL_NAMES = {"int2": "smallserial", "int4": "serial", "int8": "bigserial"}
_PRECISION = {"bool": 1, "int2": 5, "int4": 10, "oid": 10, "int8": 19, "float4": 8, "float8": 17, "date": 10}


def _precision_and_scale(name: str, typmod: int) -> tuple[int, int]:
    if name == "numeric":
        return (0, 0) if typmod < 0 else (((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF)
    if name in {"bpchar", "varchar"}:
        return (_UNBOUNDED, 0) if typmod < 0 else (typmod - 4, 0)
    if name in {"time", "timetz", "timestamp", "timestamptz"}:
        fraction = 6 if typmod < 0 else typmod
        width = {"time": 8, "timetz": 14, "timestamp": 19, "timestamptz": 25}[name]
        return width + (fraction + 1 if fraction else 0), fraction
    if name in {"text", "bytea", "json", "jsonb"}:
        return _UNBOUNDED, 0
    return _PRECISION.get(name, 0), 0


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    type_oid: int
    typmod: int
    table_oid: int
    table_column: int


@dataclass(slots=True)
class _Outcome:
    """One statement's result as PostgreSQL sent it (text format)."""

    columns: list[_Column] | None  # None: the statement returns no rows
    rows: list[list[str | None]]
    updated: int


@dataclass(eq=False)
class _Transaction:
    id: str
    database: str
    pool: _Pool
    conn: Connection
    started: float
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)


# ------------------------------------------------------------------ PostgreSQL errors


def format_postgres_error(
    message: str,
    sqlstate: str | None,
    *,
    severity: str = "ERROR",
    detail: str | None = None,
    hint: str | None = None,
    position: str | None = None,
    where: str | None = None,
) -> str:
    """PostgreSQL's error as the Data API reports it: the server's fields, then ``; SQLState: XXXXX``."""
    text = f"{severity}: {message}"
    for label, value in (("Detail", detail), ("Hint", hint), ("Position", position), ("Where", where)):
        if value:
            text += f"\n  {label}: {value}"
    return f"{text}; SQLState: {sqlstate}" if sqlstate else text


def _database_error(exc: psycopg.Error) -> DataApiError:
    diag = exc.diag
    if not exc.sqlstate:
        return DataApiError("DatabaseUnavailableException", f"the database connection failed: {exc}")
    message = format_postgres_error(
        diag.message_primary or str(exc),
        exc.sqlstate,
        severity=diag.severity_nonlocalized or diag.severity or "ERROR",
        detail=diag.message_detail,
        hint=diag.message_hint,
        position=diag.statement_position,
        where=diag.context,
    )
    return DataApiError("DatabaseErrorException", message)


# ------------------------------------------------------------------ connections


class _Pool:
    """Idle autocommit connections to one database; each goes back reset (``DISCARD ALL``), as in a real pool."""

    def __init__(self, uri: str, *, max_idle: int = 8) -> None:
        self.uri = uri
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def acquire(self) -> Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        try:
            return psycopg.Connection.connect(
                self.uri,
                autocommit=True,
                prepare_threshold=None,
                context=_adapters(),
                cursor_factory=psycopg.RawCursor,
                options=_SESSION_OPTIONS,
                application_name="ttai-local-data-api",
                connect_timeout=10,
            )
        except psycopg.OperationalError as exc:
            raise DataApiError("DatabaseUnavailableException", f"the database cannot be reached: {exc}") from exc

    def release(self, conn: Connection) -> None:
        if conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
            conn.close()
            return
        try:
            # Session state never outlives a call: the service runs calls on pooled connections too.
            conn.execute("DISCARD ALL")
        except psycopg.Error:
            conn.close()
            return
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


# ------------------------------------------------------------------ the endpoint


class LocalDataApi(Service):
    """An ``rds-data`` endpoint on 127.0.0.1 for one cluster ARN and one secret ARN.

    ``databases`` maps a Data API ``database`` name to a libpq URI (or is a function giving the URI, or None for
    an unknown name). Choices where the documentation is silent or unclear:

    - SQL errors are ``DatabaseErrorException`` (``BadRequestException`` is deprecated for them): PostgreSQL's
      severity, message, Detail/Hint/Position/Where lines, then ``; SQLState: XXXXX``. An unknown database is the
      same error with SQLSTATE 3D000, as PostgreSQL reports it.
    - An error inside a transaction aborts it: the transaction is rolled back and its id is then unknown
      (``TransactionNotFoundException``), as the troubleshooting guide lists among the causes.
    - A batch without a transaction is atomic (one implicit transaction). Its ``updateResults`` carry empty
      ``generatedFields`` (not supported for PostgreSQL); rows a ``RETURNING`` gives are not returned.
    - Size limits are measured on the result data PostgreSQL sends (text format): over 1 MiB per call or 64 KB
      per row is an ``UnsupportedResultException``, never a truncated result. An autocommitted statement whose
      result is too large has still taken effect.
    - The statement timeout (45 s) cancels the statement (``StatementTimeoutException``). With
      ``continueAfterTimeout`` the caller gets the same error while the statement keeps running to completion
      (and its transaction stays busy until then).
    - Several statements in one call are refused as PostgreSQL refuses them in a prepared statement.
    - ``schema`` is refused (``BadRequestException``), as Serverless v2 and provisioned clusters do.
    - ``formatRecordsAs: JSON`` returns no ``columnMetadata`` even when asked; DECIMAL values are JSON strings
      unless ``decimalReturnType`` is DOUBLE_OR_LONG; JSON columns are strings; duplicate labels: the last wins.
    - ``:name`` written inside a dollar-quoted string, for a parameter that is passed, is refused: the service
      would substitute it there too. ``:1`` (an array slice ``a[1:2]``) is read as a parameter, as there.
    - Parameters are typed: a plain string is varchar, a long int8, a double float8, a blob bytea; typeHint JSON
      binds as json (so jsonb operators need ``:p::jsonb``), TIMESTAMP as timestamp (read as UTC), DECIMAL as
      numeric. Hinted DATE/TIME/TIMESTAMP strings must be in the documented formats.
    - Results: only the documented types (plus enums, ``void`` as an empty string); others, bytea arrays and
      multidimensional arrays are an ``UnsupportedResultException`` (cast to text in the SQL).
    """

    def __init__(
        self,
        databases: Mapping[str, str] | Callable[[str], str | None],
        *,
        cluster_arn: str,
        secret_arn: str,
        default_database: str | None = None,
        statement_timeout: float = STATEMENT_TIMEOUT,
        transaction_timeout: float = TRANSACTION_IDLE_TIMEOUT,
        transaction_max_age: float = TRANSACTION_MAX_AGE,
        response_limit: int = RESPONSE_LIMIT,
        row_limit: int = ROW_LIMIT,
        port: int = 0,
    ) -> None:
        self.cluster_arn = cluster_arn
        self.secret_arn = secret_arn
        self.default_database = default_database
        self.statement_timeout = statement_timeout
        self.transaction_timeout = transaction_timeout
        self.transaction_max_age = transaction_max_age
        self.response_limit = response_limit
        self.row_limit = row_limit
        self.requests: Counter[str] = Counter()  # requests received, by operation name
        self._databases = databases
        self._port = port
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._pools: dict[str, _Pool] = {}
        self._types: dict[tuple[str, int], PgType] = {}
        self._transactions: dict[str, _Transaction] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()
        self._paused = 0
        self.endpoint_url = ""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), _Handler, self)
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"
        serve = threading.Thread(
            target=functools.partial(self._server.serve_forever, poll_interval=0.1), name="local-data-api", daemon=True
        )
        reap = threading.Thread(target=self._reap, name="local-data-api-reaper", daemon=True)
        self._threads = [serve, reap]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None
        with self._lock:
            open_transactions = list(self._transactions.values())
            self._transactions.clear()
            pools = list(self._pools.values())
            self._pools.clear()
        for transaction in open_transactions:
            transaction.conn.close()
        for pool in pools:
            pool.close()

    # ---------------------------------------------------------------- test hooks

    def pause(self, requests: int = 1) -> None:
        """Fail the next ``requests`` statement or begin calls with ``DatabaseResumingException`` (auto-pause)."""
        with self._lock:
            self._paused = requests

    @property
    def open_transactions(self) -> int:
        with self._lock:
            return len(self._transactions)

    # ---------------------------------------------------------------- requests

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request: (status, headers, body) as the service would answer it."""
        operation = ROUTES.get(path) if method == "POST" else None
        if operation is None:
            return _error_response(DataApiError("UnknownOperationException", f"no operation at {method} {path}"))
        with self._lock:
            self.requests[operation] += 1
        try:
            result = self._dispatch(operation, body)
        except DataApiError as exc:
            return _error_response(exc)
        except Exception as exc:  # noqa: BLE001 - anything unexpected is the service's internal error
            traceback.print_exc()
            return _error_response(DataApiError("InternalServerErrorException", f"internal error: {exc}"))
        payload = json.dumps(result).encode()
        return 200, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, payload

    def _dispatch(self, operation: str, body: bytes) -> dict[str, Any]:
        if len(body) > REQUEST_LIMIT:
            raise DataApiError("BadRequestException", f"the request is {len(body)} bytes; the limit is 4 MiB")
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            raise DataApiError("BadRequestException", f"the request body is not JSON: {exc}") from exc
        problems = validate_request(operation, request)
        if problems:
            count = len(problems)
            raise DataApiError(
                "BadRequestException",
                f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(problems)}",
            )
        if request["resourceArn"] != self.cluster_arn:
            raise DataApiError(
                "HttpEndpointNotEnabledException", f"HttpEndpoint is not enabled for resource {request['resourceArn']}"
            )
        if request["secretArn"] != self.secret_arn:
            raise DataApiError("SecretsErrorException", f"The secret {request['secretArn']} was not found")
        if "schema" in request:
            raise DataApiError(
                "BadRequestException", "The schema parameter isn't supported; qualify names in the SQL instead"
            )
        if operation in _RESUMABLE:
            with self._lock:
                resuming = self._paused > 0
                self._paused -= resuming
            if resuming:
                raise DataApiError(
                    "DatabaseResumingException",
                    f"The database of {self.cluster_arn} is resuming after being auto-paused; retry in a few seconds",
                )
        handler: Callable[[dict[str, Any]], dict[str, Any]] = {
            "ExecuteStatement": self._execute_statement,
            "BatchExecuteStatement": self._batch_execute_statement,
            "BeginTransaction": self._begin_transaction,
            "CommitTransaction": self._commit_transaction,
            "RollbackTransaction": self._rollback_transaction,
        }[operation]
        return handler(request)

    # ---------------------------------------------------------------- operations

    def _execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        named = _single_statement(request["sql"])
        values = bind_parameters(named, request.get("parameters") or [])
        options = ResultOptions.from_request(request)
        as_json = request.get("formatRecordsAs") == "JSON"
        with_metadata = bool(request.get("includeResultMetadata")) and not as_json
        keep_running = bool(request.get("continueAfterTimeout"))
        timeout_ms = 0 if keep_running else self._timeout_ms(self.statement_timeout)

        def work(conn: Connection, uri: str) -> dict[str, Any]:
            outcome = self._run(conn, named.text, values, timeout_ms)
            return self._statement_response(conn, uri, outcome, options, as_json=as_json, with_metadata=with_metadata)

        transaction_id = request.get("transactionId")
        if transaction_id:
            transaction = self._enter_transaction(transaction_id)
            return self._with_timeout(lambda: self._in_transaction(transaction, work), keep_running)
        pool = self._pool_for(request.get("database"))
        conn = pool.acquire()
        return self._with_timeout(lambda: self._on_pooled(pool, conn, work), keep_running)

    def _batch_execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        named = _single_statement(request["sql"])
        parameter_sets = [bind_parameters(named, s) for s in request.get("parameterSets") or []]
        deadline = time.monotonic() + self.statement_timeout

        def work(conn: Connection, uri: str) -> dict[str, Any]:
            for values in parameter_sets:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DataApiError(
                        "StatementTimeoutException", "The batch timed out", dbConnectionId=conn.info.backend_pid
                    )
                self._run(conn, named.text, values, self._timeout_ms(remaining))
            return {"updateResults": [{"generatedFields": []} for _ in parameter_sets]}

        transaction_id = request.get("transactionId")
        if transaction_id:
            return self._in_transaction(self._enter_transaction(transaction_id), work)
        pool = self._pool_for(request.get("database"))
        conn = pool.acquire()

        def atomic(conn: Connection, uri: str) -> dict[str, Any]:
            try:
                conn.execute("BEGIN")
                try:
                    result = work(conn, uri)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                raise _database_error(exc) from exc
            return result

        return self._on_pooled(pool, conn, atomic)

    def _begin_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        database = self._database_name(request.get("database"))
        pool = self._pool_for(database)
        conn = pool.acquire()
        try:
            conn.execute("BEGIN")
        except psycopg.Error as exc:
            pool.release(conn)
            raise _database_error(exc) from exc
        now = time.monotonic()
        transaction = _Transaction(secrets.token_urlsafe(48), database, pool, conn, now, now)
        with self._lock:
            self._transactions[transaction.id] = transaction
        return {"transactionId": transaction.id}

    def _commit_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        transaction = self._enter_transaction(request["transactionId"])
        try:
            transaction.conn.execute("COMMIT")
        except psycopg.Error as exc:
            self._end_transaction(transaction, "aborted")
            raise _database_error(exc) from exc
        self._end_transaction(transaction, "ended")
        return {"transactionStatus": "Transaction Committed"}

    def _rollback_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        transaction = self._enter_transaction(request["transactionId"])
        self._end_transaction(transaction, "ended")
        return {"transactionStatus": "Rollback Complete"}

    # ---------------------------------------------------------------- running statements

    def _run(self, conn: Connection, sql: str, values: list[_Typed | None], timeout_ms: int) -> _Outcome:
        """One statement on ``conn``; psycopg errors become the Data API's errors."""
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(timeout_ms)}")
                cursor.execute(sql, values or None)
                result = cursor.pgresult
                assert result is not None
                status = cursor.statusmessage or ""
                updated = cursor.rowcount if status.split(" ")[0] in {"INSERT", "UPDATE", "DELETE", "MERGE"} else 0
                if result.status != pq.ExecStatus.TUPLES_OK:
                    return _Outcome(None, [], max(updated, 0))
                columns = [
                    _Column(
                        (result.fname(i) or b"").decode(),
                        result.ftype(i),
                        result.fmod(i),
                        result.ftable(i),
                        result.ftablecol(i),
                    )
                    for i in range(result.nfields)
                ]
                rows = self._read_rows(result)
                return _Outcome(columns, rows, max(updated, 0))
        except psycopg.errors.QueryCanceled as exc:
            raise DataApiError(
                "StatementTimeoutException",
                f"The statement was cancelled after the {self.statement_timeout:g} s timeout",
                dbConnectionId=conn.info.backend_pid,
            ) from exc
        except psycopg.Error as exc:
            raise _database_error(exc) from exc

    def _read_rows(self, result: pq.abc.PGresult) -> list[list[str | None]]:
        rows: list[list[str | None]] = []
        total = 0
        for r in range(result.ntuples):
            raw = [result.get_value(r, c) for c in range(result.nfields)]
            size = sum(len(v) for v in raw if v is not None)
            if size > self.row_limit:
                raise DataApiError(
                    "UnsupportedResultException",
                    f"Packet for query is too large: row {r + 1} is {size} bytes; the limit is {self.row_limit}",
                )
            total += size
            if total > self.response_limit:
                raise DataApiError(
                    "UnsupportedResultException",
                    f"Database response exceeded size limit: the result is over the response size limit of "
                    f"{self.response_limit} bytes; select less or paginate with LIMIT",
                )
            rows.append([None if v is None else bytes(v).decode() for v in raw])
        return rows

    def _statement_response(
        self,
        conn: Connection,
        uri: str,
        outcome: _Outcome,
        options: ResultOptions,
        *,
        as_json: bool,
        with_metadata: bool,
    ) -> dict[str, Any]:
        response: dict[str, Any] = {"numberOfRecordsUpdated": outcome.updated}
        if outcome.columns is None:
            response["generatedFields"] = []
            return response
        types = self._pg_types(conn, uri, [c.type_oid for c in outcome.columns])
        for column in outcome.columns:
            reason = unsupported_type(types[column.type_oid])
            if reason:
                raise DataApiError("UnsupportedResultException", f"{reason} (column {column.name!r})")
        records = [
            [encode_value(value, types[c.type_oid], options) for value, c in zip(row, outcome.columns, strict=True)]
            for row in outcome.rows
        ]
        if as_json:
            labels = [c.name for c in outcome.columns]
            objects = [dict(zip(labels, (field_as_json(f) for f in record), strict=True)) for record in records]
            formatted = json.dumps(objects, separators=(",", ":"))
            if len(formatted) > FORMATTED_RECORDS_LIMIT:
                raise DataApiError("UnsupportedResultException", "The JSON-formatted result is over its 10 MB limit")
            response["formattedRecords"] = formatted
            return response
        response["records"] = records
        if with_metadata:
            response["columnMetadata"] = self._column_metadata(conn, outcome.columns, types)
        return response

    def _column_metadata(
        self, conn: Connection, columns: list[_Column], types: dict[int, PgType]
    ) -> list[dict[str, Any]]:
        tables: dict[int, str] = {}
        attributes: dict[tuple[int, int], tuple[bool, bool]] = {}  # (table, column) -> (not null, auto increment)
        table_oids = sorted({c.table_oid for c in columns if c.table_oid})
        if table_oids:
            listed = [_oid_array(table_oids)]
            for oid, relname in conn.execute(_TABLES_QUERY, listed):
                tables[int(oid)] = str(relname)
            for relid, attnum, notnull, auto in conn.execute(_COLUMNS_QUERY, listed):
                attributes[(int(relid), int(attnum))] = (bool(notnull), bool(auto))
        metadata = []
        for column in columns:
            pg_type = types[column.type_oid]
            notnull, auto = attributes.get((column.table_oid, column.table_column), (False, False))
            type_name = pg_type.name
            if auto and type_name in _SERIAL_NAMES:
                type_name = _SERIAL_NAMES[type_name]
            precision, scale = _precision_and_scale(pg_type.name, column.typmod)
            element = pg_type.element
            metadata.append(
                {
                    "name": column.name,
                    "label": column.name,
                    "type": _JDBC_ARRAY if element else _JDBC_TYPES.get(pg_type.name, _JDBC_OTHER),
                    "typeName": type_name,
                    "schemaName": "",
                    "tableName": tables.get(column.table_oid, ""),
                    "isAutoIncrement": auto,
                    "isSigned": pg_type.name in _SIGNED,
                    "isCurrency": False,
                    "isCaseSensitive": pg_type.name not in _CASE_INSENSITIVE,
                    "nullable": 0 if notnull else 1,
                    "precision": precision,
                    "scale": scale,
                    "arrayBaseColumnType": _JDBC_TYPES.get(element.name, _JDBC_OTHER) if element else 0,
                }
            )
        return metadata

    def _pg_types(self, conn: Connection, uri: str, oids: Sequence[int]) -> dict[int, PgType]:
        """``pg_type`` facts for these OIDs (built-in types cached for all databases, others per database)."""

        def key(oid: int) -> tuple[str, int]:
            return ("" if oid < 16384 else uri, oid)

        with self._lock:
            known = {oid: self._types[key(oid)] for oid in oids if key(oid) in self._types}
        missing = sorted(set(oids) - known.keys())
        if missing:
            try:
                rows = conn.execute(_TYPES_QUERY, [_oid_array(missing)]).fetchall()
            except psycopg.Error as exc:
                raise _database_error(exc) from exc
            found = {}
            for oid, name, kind, element_oid, element_name, element_kind in rows:
                element = PgType(int(element_oid), str(element_name), str(element_kind)) if element_oid else None
                found[int(oid)] = PgType(int(oid), str(name), str(kind), element)
            with self._lock:
                for oid, pg_type in found.items():
                    self._types[key(oid)] = pg_type
            known.update(found)
        return known

    # ---------------------------------------------------------------- connections and transactions

    def _database_name(self, requested: str | None) -> str:
        name = requested or self.default_database
        if not name:
            raise DataApiError(
                "DatabaseErrorException", "ERROR: no database was given and none is configured; SQLState: 3D000"
            )
        return name

    def _pool_for(self, requested: str | None) -> _Pool:
        name = self._database_name(requested)
        uri = self._databases(name) if callable(self._databases) else self._databases.get(name)
        if uri is None:
            raise DataApiError("DatabaseErrorException", f'ERROR: database "{name}" does not exist; SQLState: 3D000')
        with self._lock:
            pool = self._pools.get(uri)
            if pool is None:
                pool = self._pools[uri] = _Pool(uri)
        return pool

    def _on_pooled(self, pool: _Pool, conn: Connection, work: Callable[[Connection, str], _T]) -> _T:
        try:
            return work(conn, pool.uri)
        finally:
            pool.release(conn)

    def _enter_transaction(self, transaction_id: str) -> _Transaction:
        """The transaction, now busy with this call; unknown, ended or expired ids raise the documented errors."""
        now = time.monotonic()
        with self._lock:
            transaction = self._transactions.get(transaction_id)
            if transaction is None:
                raise self._not_found(transaction_id)
            if not transaction.lock.acquire(blocking=False):
                raise DataApiError("DatabaseErrorException", "Transaction is still running a query")
            expired = self._expired(transaction, now)
        if expired:
            self._end_transaction(transaction, "expired")
            raise self._not_found(transaction_id)
        return transaction

    def _in_transaction(self, transaction: _Transaction, work: Callable[[Connection, str], _T]) -> _T:
        """Run ``work`` in the (entered) transaction; an error aborts it, as the service does."""
        try:
            result = work(transaction.conn, transaction.pool.uri)
        except BaseException:
            self._end_transaction(transaction, "aborted")
            raise
        transaction.last_used = time.monotonic()
        transaction.lock.release()
        return result

    def _end_transaction(self, transaction: _Transaction, reason: str) -> None:
        """Forget the (entered) transaction: commit already done for "ended" commits, else roll back."""
        with self._lock:
            self._transactions.pop(transaction.id, None)
            self._ended[transaction.id] = reason
            while len(self._ended) > _MAX_REMEMBERED_ENDINGS:
                self._ended.popitem(last=False)
        conn = transaction.conn
        try:
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            conn.close()
        transaction.pool.release(conn)
        transaction.lock.release()

    def _not_found(self, transaction_id: str) -> DataApiError:
        with self._lock:
            reason = self._ended.get(transaction_id, "expired")
        cause = {
            "expired": "it may have expired (unused for more than three minutes), or was never started",
            "ended": "a previous call already committed or rolled it back",
            "aborted": "it was rolled back after an error in a previous call",
        }[reason]
        return DataApiError("TransactionNotFoundException", f"Transaction {transaction_id} is not found: {cause}")

    def _expired(self, transaction: _Transaction, now: float) -> bool:
        return (
            now - transaction.last_used > self.transaction_timeout
            or now - transaction.started > self.transaction_max_age
        )

    def _reap(self) -> None:
        """Roll back transactions left idle past the timeout (also checked whenever a call names one)."""
        interval = max(0.05, min(1.0, self.transaction_timeout / 4))
        while not self._stopping.wait(interval):
            now = time.monotonic()
            with self._lock:
                idle = [t for t in self._transactions.values() if self._expired(t, now)]
                expired = [t for t in idle if t.lock.acquire(blocking=False)]
            for transaction in expired:
                self._end_transaction(transaction, "expired")

    def _with_timeout(self, call: Callable[[], _T], keep_running: bool) -> _T:
        """``call()``; with ``continueAfterTimeout`` the caller gets the timeout error while the work goes on."""
        if not keep_running:
            return call()
        future: Future[_T] = Future()

        def run() -> None:
            try:
                future.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                future.set_exception(exc)

        threading.Thread(target=run, name="local-data-api-statement", daemon=True).start()
        try:
            return future.result(timeout=self.statement_timeout)
        except FutureTimeout:
            raise DataApiError(
                "StatementTimeoutException",
                f"The call timed out after {self.statement_timeout:g} s; the statement continues to run",
            ) from None

    @staticmethod
    def _timeout_ms(seconds: float) -> int:
        return max(1, int(seconds * 1000))


_TYPES_QUERY = (
    "SELECT t.oid, t.typname, t.typtype, e.oid, e.typname, e.typtype FROM pg_type t "
    "LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' WHERE t.oid = ANY($1::oid[])"
)
_TABLES_QUERY = "SELECT oid, relname FROM pg_class WHERE oid = ANY($1::oid[])"
_COLUMNS_QUERY = (
    "SELECT a.attrelid, a.attnum, a.attnotnull, "
    "a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%' "
    "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0"
)


def _oid_array(oids: Sequence[int]) -> _Varchar:
    return _Varchar("{" + ",".join(str(int(oid)) for oid in oids) + "}")


def _single_statement(sql: str) -> NamedSql:
    named = parse_named_sql(sql)
    if named.statements > 1:
        raise DataApiError(
            "DatabaseErrorException",
            "ERROR: cannot insert multiple commands into a prepared statement; SQLState: 42601",
        )
    return named


def _error_response(error: DataApiError) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"message": error.message, **error.members}).encode()
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": error.shape,
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return error_status(error.shape), headers, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], api: LocalDataApi) -> None:
        super().__init__(address, handler)
        self.api = api


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't let the body wait for an ACK

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.api.handle(self.command, self.path.split("?")[0], body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and ``make dev`` print their own story."""

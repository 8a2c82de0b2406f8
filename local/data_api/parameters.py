"""``SqlParameter`` values typed as the Data API binds them: a string as varchar, a long as int8, JSON as json..."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.adapt import AdaptersMap, Dumper

from local.data_api.errors import DataApiError
from local.data_api.named_sql import NamedSql
from local.data_api.validation import b64decode


class Typed:
    """A parameter in PostgreSQL's text format; the subclass says which type the Data API binds it as."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Varchar(Typed):
    __slots__ = ()


class _Int8(Typed):
    __slots__ = ()


class _Float8(Typed):
    __slots__ = ()


class _Bool(Typed):
    __slots__ = ()


class _Bytea(Typed):
    __slots__ = ()


class _Date(Typed):
    __slots__ = ()


class _Time(Typed):
    __slots__ = ()


class _Timestamp(Typed):
    __slots__ = ()


class _Numeric(Typed):
    __slots__ = ()


class _Uuid(Typed):
    __slots__ = ()


class _Json(Typed):
    __slots__ = ()


# A string is bound as varchar, as the service does: a jsonb column then needs typeHint JSON, as it does there.
_PARAMETER_TYPES: dict[type[Typed], str] = {
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
_HINTED: dict[str, type[Typed]] = {
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
def adapters() -> AdaptersMap:
    adapters = AdaptersMap(psycopg.adapters)
    for cls, type_name in _PARAMETER_TYPES.items():
        adapters.register_dumper(cls, _dumper(type_name))
    return adapters


def varchar(text: str) -> Typed:
    """``text`` bound as varchar, as the service binds a plain string."""
    return _Varchar(text)


def bind_parameters(named: NamedSql, parameters: Sequence[Mapping[str, Any]]) -> list[Typed | None]:
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
    values: list[Typed | None] = []
    for name in named.names:
        if name not in by_name:
            raise DataApiError("DatabaseErrorException", f"No value specified for parameter :{name}.; SQLState: 22023")
        values.append(typed_value(by_name[name]))
    return values


def typed_value(parameter: Mapping[str, Any]) -> Typed | None:  # noqa: PLR0911 - one case per Field member
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
        data = b64decode(value["blobValue"])
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

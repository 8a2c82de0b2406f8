"""Values on their way from a D1 row into a PostgreSQL column, and the canonical text both sides are compared by.

Each target column has a kind, read from its type in the catalog (``numeric(18,6)``, ``timestamp with time
zone``...). ``fit`` turns what the mapping made of a D1 value into the JSON that ``jsonb_populate_recordset`` reads
into that column, refusing what the column cannot hold (a number past its precision, text with a NUL, an integer
past 32 bits...) before PostgreSQL would stop the page on it, and gives the value's canonical text: the text
PostgreSQL prints for the value once stored (``canonical_sql``). A row's digest is the SHA-256 of its canonical
texts, computed here for the D1 row and in PostgreSQL for the stored one (``row_digest_sql``): equal exactly when
the row holds what the mapping meant it to, and the target's rows never cross the Data API to be compared.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")
_INTEGER_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
_SIMPLE_KINDS = frozenset(
    {"text", "boolean", "timestamp with time zone", "date", "jsonb", "text[]", "numeric", *_INTEGER_RANGES}
)


class Refused(ValueError):
    """A value (and so its row) our schema cannot take: the message says why, for the report."""


@dataclass(frozen=True, slots=True)
class Document:
    """A JSON document from a D1 text column: its text, checked, and its value (numbers as Decimal)."""

    text: str
    value: Any


@dataclass(frozen=True, slots=True)
class Kind:
    """A PostgreSQL column type this importer writes: its name, and for numeric its precision and scale."""

    name: str
    precision: int | None = None
    scale: int | None = None

    @classmethod
    def of(cls, type_name: str) -> Kind:
        """The kind of a ``format_type`` name; ValueError for a type no mapping writes."""
        found = _NUMERIC.fullmatch(type_name)
        if found:
            return cls("numeric", int(found.group(1)), int(found.group(2)))
        if type_name not in _SIMPLE_KINDS:
            raise ValueError(f"the importer does not write columns of type {type_name}")
        return cls(type_name)


def fit(kind: Kind, column: str, value: Any) -> tuple[str, str | None]:
    """The JSON for ``value`` in a column of ``kind``, and its canonical text (None for NULL)."""
    if value is None:
        return "null", None
    try:
        return _fit(kind, value)
    except Refused as exc:
        raise Refused(f"{column}: {exc}") from None


def _fit(kind: Kind, value: Any) -> tuple[str, str]:  # noqa: PLR0911, PLR0912 - a case per kind
    name = kind.name
    if name == "text":
        text = _text(value)
        return json.dumps(text, ensure_ascii=False), text
    if name in _INTEGER_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refused(f"{value!r} is not a whole number")
        bound = _INTEGER_RANGES[name]
        if not -bound <= value < bound:
            raise Refused(f"{value} does not fit in a PostgreSQL {name}")
        return str(value), str(value)
    if name == "boolean":
        if not isinstance(value, bool):
            raise Refused(f"{value!r} is not true or false")
        return ("true", "true") if value else ("false", "false")
    if name == "numeric":
        number = _numeric(kind, value)
        return format(number, "f"), format(number.copy_abs() if number == 0 else number, "f")
    if name == "timestamp with time zone":
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise Refused(f"{value!r} is not an instant")
        text = value.astimezone(UTC).isoformat()
        return json.dumps(text), text
    if name == "date":
        if not isinstance(value, date) or isinstance(value, datetime):
            raise Refused(f"{value!r} is not a date")
        return json.dumps(value.isoformat()), value.isoformat()
    if name == "jsonb":
        if not isinstance(value, Document):
            raise Refused(f"{value!r} is not a JSON document")
        return value.text, jsonb_text(value.value)
    if name == "text[]":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise Refused(f"{value!r} is not a list of text")
        items = [_text(v) for v in value]
        return json.dumps(items, ensure_ascii=False), jsonb_text(items)
    raise Refused(f"no way to write {name}")  # pragma: no cover - Kind.of admits only the kinds above


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused(f"{value!r} is not text")
    if "\x00" in value:
        raise Refused("PostgreSQL text cannot hold a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("not valid Unicode text (a lone surrogate)") from None
    return value


def _numeric(kind: Kind, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Refused(f"{value!r} is not a number")
    number = Decimal(value)
    if not number.is_finite():
        raise Refused(f"{value} is not a finite number")
    if kind.precision is None or kind.scale is None:
        return number
    try:
        # PostgreSQL rounds half away from zero to the column's scale, as ROUND_HALF_UP does.
        number = number.quantize(Decimal(1).scaleb(-kind.scale), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise Refused(f"{value} does not fit numeric({kind.precision},{kind.scale})") from None
    digits = len(number.as_tuple().digits) - kind.scale
    if number != 0 and digits > kind.precision - kind.scale:
        raise Refused(f"{value} does not fit numeric({kind.precision},{kind.scale})")
    return number


def canonical_sql(kind: Kind, column: str) -> str:
    """A SQL expression giving, for the stored value of ``column``, the canonical text ``fit`` gives for the value
    it wrote (NULL for NULL), so the target's side of a verification is computed where the rows are."""
    name = kind.name
    if name == "boolean":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    if name == "timestamp with time zone":
        utc = f"({column} AT TIME ZONE 'UTC')"
        whole = f"extract(microseconds FROM {column})::bigint % 1000000 = 0"
        fraction = f"CASE WHEN {whole} THEN '' ELSE to_char({utc}, '.US') END"
        return f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || {fraction} || '+00:00'"
    if name == "date":
        return f"to_char({column}, 'YYYY-MM-DD')"
    if name == "text[]":
        return f"to_jsonb({column})::text"
    if name == "text":
        return column
    return f"{column}::text"  # integers, numeric at its scale, jsonb as jsonb prints itself


def row_digest_sql(columns: list[tuple[str, Kind]]) -> str:
    """The SQL for ``row_digest`` of a stored row: SHA-256 (hex) of the JSON array of its canonical texts."""
    items = ", ".join(canonical_sql(kind, f'"{name}"') for name, kind in columns)
    return f"encode(sha256(convert_to(jsonb_build_array({items})::text, 'UTF8')), 'hex')"


def row_digest(canonical: list[str | None]) -> int:
    """SHA-256 of the JSON array of a row's canonical texts, as ``row_digest_sql`` computes it in PostgreSQL (whose
    jsonb prints an array of strings as Python's ``json.dumps`` does without ``ensure_ascii``)."""
    text = json.dumps(canonical, ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def jsonb_text(value: Any) -> str:
    """A document as PostgreSQL's jsonb prints it: object keys shortest first, then by their bytes (duplicates keep
    the last), ``, `` and ``: `` between items, numbers as numeric prints them (``1.50``, ``1e2`` as ``100``, no
    negative zero)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode("utf-8")), k.encode("utf-8")))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {jsonb_text(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return format(value.copy_abs() if value == 0 else value, "f")
    raise TypeError(f"not a JSON value: {value!r}")


def parse_document(text: str) -> Document:
    """A JSON document PostgreSQL's jsonb takes, or Refused saying why not (jsonb refuses NaN, Infinity, ``\\u0000``
    and lone surrogates, which Python's parser lets through)."""
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant)
    except ValueError as exc:
        raise Refused(f"not valid JSON ({exc})") from None
    _check_strings(value)
    return Document(text, value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise Refused("JSON text with \\u0000, which jsonb cannot hold")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise Refused("JSON with a lone surrogate escape, which jsonb cannot hold") from None

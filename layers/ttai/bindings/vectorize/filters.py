"""Vectorize metadata filters: checked against Cloudflare's grammar, compiled to SQL over the ``indexed`` projection.

Grammar (reference/metadata-filtering): a non-empty object whose compact JSON is under 2,048 bytes; keys are
property paths (dots nest, no '"', not starting with '$', at most 512 characters); a value is a scalar (implicit
``$eq``) or an object of operators: ``$eq``/``$ne`` take a string, number, boolean or null, ``$in``/``$nin`` a list
of those, ``$lt $lte $gt $gte`` a string or a number, and an object holds one operator or one lower bound with one
upper bound. Keys are ANDed.

Semantics where Cloudflare is silent, decided here: a filter reads the metadata indexes, so a property without one,
or a value of another type than its index's, matches nothing; ``$ne``/``$nin`` match the vectors that have an
indexed value and differ from the operand(s) (a vector without the property is not in the index); ``null`` is
never an indexed value, so ``$eq: null`` matches nothing and ``$ne: null`` every indexed value. Strings compare
on their first 64 bytes (what the index keeps), byte-wise; numbers as float64.

Each condition is written on exactly the expression its metadata index's B-tree covers (see the migration's
``vectorize_metadata_expression``), with the property as a literal, so PostgreSQL can use that index.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ttai.bindings.vectorize.errors import InvalidFilter, VectorizeError, VectorizeLimitExceeded
from ttai.bindings.vectorize.model import MAX_FILTER_BYTES, check_property, indexed_string

_EQUALITY = frozenset({"$eq", "$ne", "$in", "$nin"})
_LOWER = frozenset({"$gt", "$gte"})
_UPPER = frozenset({"$lt", "$lte"})
_OPERATORS = _EQUALITY | _LOWER | _UPPER
_COMPARISON = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
Scalar = str | int | float | bool | None


def compile_filter(query_filter: Mapping[str, Any], alias: str = "v") -> tuple[str, list[Any]]:
    """The filter as one SQL condition on ``alias``'s row and the values of its ``?`` placeholders, in order."""
    if not query_filter:
        raise InvalidFilter("a filter must be a non-empty object")
    try:
        size = len(json.dumps(query_filter, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidFilter(f"a filter must be JSON: {exc}") from exc
    if size >= MAX_FILTER_BYTES:
        raise VectorizeLimitExceeded(f"the filter is {size} bytes as compact JSON; Vectorize's limit is under 2048")
    conditions: list[str] = []
    params: list[Any] = []
    for key, condition in query_filter.items():
        try:
            path = check_property(key, "filter key")
        except VectorizeLimitExceeded:
            raise
        except VectorizeError as exc:  # a malformed key is a malformed filter
            raise InvalidFilter(str(exc)) from exc
        operators = condition if isinstance(condition, Mapping) else {"$eq": condition}
        property_sql = _PropertySql(alias, path)
        for operator, operand in _checked_operators(path, operators).items():
            sql, values = property_sql.condition(operator, operand)
            conditions.append(sql)
            params += values
    return " AND ".join(conditions), params


def _checked_operators(path: str, operators: Mapping[str, Any]) -> Mapping[str, Any]:
    if not operators:
        raise InvalidFilter(f"filter {path!r}: an operator object needs an operator")
    unknown = sorted(str(op) for op in operators if op not in _OPERATORS)
    if unknown:
        raise InvalidFilter(
            f"filter {path!r}: unknown operator(s) {', '.join(unknown)}; "
            f"Vectorize's are {', '.join(sorted(_OPERATORS))}"
        )
    names = set(operators)
    lone = len(names) == 1
    bounded = len(names) == 2 and len(names & _LOWER) == 1 and len(names & _UPPER) == 1
    if not (lone or bounded):
        raise InvalidFilter(
            f"filter {path!r}: {', '.join(sorted(names))} cannot be combined; one operator, or one of $gt/$gte "
            "with one of $lt/$lte"
        )
    for operator, operand in operators.items():
        if operator in {"$eq", "$ne"}:
            _check_scalar(path, operator, operand)
        elif operator in {"$in", "$nin"}:
            if isinstance(operand, str) or not isinstance(operand, Sequence):
                raise InvalidFilter(f"filter {path!r}: {operator} takes a list, not {type(operand).__name__}")
            for item in operand:
                _check_scalar(path, operator, item)
        elif isinstance(operand, bool) or not isinstance(operand, str | int | float):
            raise InvalidFilter(f"filter {path!r}: {operator} takes a string or a number, not {operand!r}")
        else:
            _check_scalar(path, operator, operand)
    return operators


def _check_scalar(path: str, operator: str, value: object) -> None:
    if value is not None and not isinstance(value, str | int | float):
        raise InvalidFilter(f"filter {path!r}: {operator} takes strings, numbers, booleans or null, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidFilter(f"filter {path!r}: {operator} {value} is not a finite number")
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError as exc:
            raise InvalidFilter(f"filter {path!r}: {operator} {value} is beyond float64") from exc
    if isinstance(value, str) and "\x00" in value:
        raise InvalidFilter(f"filter {path!r}: PostgreSQL text cannot hold NUL characters")


def sql_literal(text: str) -> str:
    """A PostgreSQL string literal for ``text`` that reads the same whatever standard_conforming_strings is."""
    quoted = text.replace("'", "''")
    if "\\" in quoted:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


class _PropertySql:
    """The SQL of one property's conditions: one typed expression per metadata index type."""

    def __init__(self, alias: str, path: str) -> None:
        key = sql_literal(path)
        self.string = f"(({alias}.indexed -> 'string' ->> {key}) COLLATE \"C\")"
        self.number = f"(({alias}.indexed -> 'number' ->> {key})::float8)"
        self.boolean = f"(({alias}.indexed -> 'boolean' ->> {key})::boolean)"
        self.present = "(" + " OR ".join(f"{alias}.indexed -> '{t}' -> {key} IS NOT NULL" for t in _TYPES) + ")"

    def condition(self, operator: str, operand: Any) -> tuple[str, list[Any]]:
        if operator == "$eq":
            return self._any_of([operand])
        if operator == "$in":
            return self._any_of(list(operand))
        if operator in {"$ne", "$nin"}:
            matched, params = self._any_of([operand] if operator == "$ne" else list(operand))
            return f"({self.present} AND {matched} IS NOT TRUE)", params
        comparison = _COMPARISON[operator]
        if isinstance(operand, str):
            return f"{self.string} {comparison} CAST(? AS text)", [indexed_string(operand)]
        return f"{self.number} {comparison} CAST(? AS float8)", [float(operand)]

    def _any_of(self, values: list[Scalar]) -> tuple[str, list[Any]]:
        """True when the indexed value equals one of ``values`` (null never does), false otherwise."""
        strings = [indexed_string(v) for v in values if isinstance(v, str)]
        booleans = [v for v in values if isinstance(v, bool)]
        numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        parts: list[str] = []
        params: list[Any] = []
        for expression, cast, typed in (
            (self.string, "text", strings),
            (self.number, "float8", numbers),
            (self.boolean, "boolean", booleans),
        ):
            if typed:
                placeholders = ", ".join(f"CAST(? AS {cast})" for _ in typed)
                parts.append(f"{expression} IN ({placeholders})")
                params += typed
        if not parts:
            return "FALSE", []
        return "(" + " OR ".join(parts) + ")", params


_TYPES = ("string", "number", "boolean")

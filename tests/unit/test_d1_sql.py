"""D1 placeholders, statement splitting and Data API value encoding: pure functions, no database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from ttai.bindings.d1 import D1BindError, decode_field, encode_value
from ttai.bindings.sql import SqlSyntaxError, compile_d1, split_statements


@pytest.mark.parametrize(
    ("sql", "compiled", "count"),
    [
        ("SELECT ?", "SELECT :p1", 1),
        ("SELECT ?, ?", "SELECT :p1, :p2", 2),
        ("SELECT ?2, ?1", "SELECT :p2, :p1", 2),
        ("SELECT ?2, ?, ?1", "SELECT :p2, :p3, :p1", 3),  # a bare ? follows the highest index so far
        ("SELECT ?3", "SELECT :p3", 3),
        ("SELECT '?', ?", "SELECT '?', :p1", 1),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', :p1", 1),
        ("SELECT E'\\' ?', ?", "SELECT E'\\' ?', :p1", 1),
        ('SELECT "odd?name" FROM t WHERE x = ?', 'SELECT "odd?name" FROM t WHERE x = :p1', 1),
        ("SELECT $$ ? $$, $tag$ ? $tag$, ?", "SELECT $$ ? $$, $tag$ ? $tag$, :p1", 1),
        ("SELECT ? -- ?\n, ?", "SELECT :p1 -- ?\n, :p2", 2),
        ("SELECT /* ? /* ? */ ? */ ?", "SELECT /* ? /* ? */ ? */ :p1", 1),
        ("SELECT x::text FROM t WHERE y = ?", "SELECT x::text FROM t WHERE y = :p1", 1),
        ("SELECT 1", "SELECT 1", 0),
    ],
)
def test_placeholders_become_named_parameters_outside_literals_and_comments(
    sql: str, compiled: str, count: int
) -> None:
    result = compile_d1(sql)
    assert (result.sql, result.parameter_count) == (compiled, count)


@pytest.mark.parametrize(
    ("sql", "returns_rows"),
    [
        ("SELECT 1", True),
        ("  -- note\n with x as (select 1) select * from x", True),
        ("INSERT INTO t VALUES (?) RETURNING id", True),
        ("INSERT INTO t VALUES (?)", False),
        ("UPDATE t SET x = 'returning'", False),
        ("DELETE FROM t", False),
    ],
)
def test_statements_that_return_rows_are_recognized(sql: str, returns_rows: bool) -> None:
    assert compile_d1(sql).returns_rows is returns_rows


@pytest.mark.parametrize(
    "sql", ["SELECT ?0", "SELECT ?40000", "SELECT 'open", 'SELECT "open', "SELECT $$ open", "/* open"]
)
def test_unreadable_sql_is_refused(sql: str) -> None:
    with pytest.raises(SqlSyntaxError):
        compile_d1(sql)


def test_a_script_splits_on_semicolons_in_code_only() -> None:
    script = """
        CREATE TABLE a (x text DEFAULT ';');  -- a comment; with a semicolon
        /* a ; block */ CREATE FUNCTION f() RETURNS int AS $f$ SELECT 1; $f$ LANGUAGE sql;;
        SELECT/**/1
    """
    assert split_statements(script) == [
        "CREATE TABLE a (x text DEFAULT ';')",
        "CREATE FUNCTION f() RETURNS int AS $f$ SELECT 1; $f$ LANGUAGE sql",
        "SELECT 1",
    ]


NEW_YORK = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, {"value": {"isNull": True}}),
        (True, {"value": {"booleanValue": True}}),
        (42, {"value": {"longValue": 42}}),
        (-(2**63), {"value": {"longValue": -(2**63)}}),
        (1.5, {"value": {"doubleValue": 1.5}}),
        (Decimal("12.3400"), {"value": {"stringValue": "12.3400"}, "typeHint": "DECIMAL"}),
        ("text ' with quotes", {"value": {"stringValue": "text ' with quotes"}}),
        (
            datetime(2026, 3, 8, 9, 30, tzinfo=NEW_YORK),
            {"value": {"stringValue": "2026-03-08 14:30:00.000000"}, "typeHint": "TIMESTAMP"},
        ),
        (date(2026, 1, 2), {"value": {"stringValue": "2026-01-02"}, "typeHint": "DATE"}),
        (time(9, 30, 1, 5), {"value": {"stringValue": "09:30:01.000005"}, "typeHint": "TIME"}),
        (
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            {"value": {"stringValue": "12345678-1234-5678-1234-567812345678"}, "typeHint": "UUID"},
        ),
        (b"\x00\xff", {"value": {"blobValue": b"\x00\xff"}}),
        ({"a": [1, None]}, {"value": {"stringValue": '{"a":[1,null]}'}, "typeHint": "JSON"}),
        (["x", 1], {"value": {"stringValue": '["x",1]'}, "typeHint": "JSON"}),
    ],
)
def test_values_encode_as_typed_parameters(value: Any, encoded: dict[str, Any]) -> None:
    assert encode_value(value, "p1") == {"name": "p1", **encoded}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**63, "64 bits"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (Decimal("NaN"), "finite"),
        (datetime(2026, 1, 1, 9, 30), "naive"),  # noqa: DTZ001 - the point of the test
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), "outside the years 1-9999 once in UTC"),
        (datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))), "outside the years 1-9999 once in UTC"),
        ("nul\x00byte", "NUL"),
        ({"x": float("nan")}, "JSON"),
        (object(), "cannot bind"),
    ],
)
def test_values_that_cannot_cross_are_refused_with_a_reason(value: Any, message: str) -> None:
    with pytest.raises(D1BindError, match=message):
        encode_value(value, "p1")


@pytest.mark.parametrize(
    ("field", "type_name", "decoded"),
    [
        ({"isNull": True}, "int4", None),
        ({"longValue": 7}, "int8", 7),
        ({"doubleValue": 2.5}, "float8", 2.5),
        ({"booleanValue": False}, "bool", False),
        ({"stringValue": "1.10"}, "numeric", Decimal("1.10")),
        ({"stringValue": '{"k": [1]}'}, "jsonb", {"k": [1]}),
        ({"stringValue": "2026-03-08 14:30:00.25"}, "timestamptz", datetime(2026, 3, 8, 14, 30, 0, 250000, tzinfo=UTC)),
        ({"stringValue": "2026-03-08 14:30:00"}, "timestamptz", datetime(2026, 3, 8, 14, 30, tzinfo=UTC)),
        ({"stringValue": "2026-03-08"}, "date", date(2026, 3, 8)),
        ({"stringValue": "09:30:00"}, "time", time(9, 30)),
        (
            {"stringValue": "12345678-1234-5678-1234-567812345678"},
            "uuid",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ({"blobValue": b"\x01"}, "bytea", b"\x01"),
        ({"arrayValue": {"stringValues": ["a", "b"]}}, "_text", ["a", "b"]),
        ({"arrayValue": {"longValues": [1, 2]}}, "_int4", [1, 2]),
        ({"stringValue": "plain"}, "text", "plain"),
    ],
)
def test_fields_decode_by_column_type(field: dict[str, Any], type_name: str, decoded: Any) -> None:
    assert decode_field(field, type_name) == decoded


@pytest.mark.parametrize(
    ("field", "type_name", "decoded"),
    [
        # What the Data API returns for values Python cannot hold comes back as that text, never an error.
        ({"stringValue": "+292278994-08-16 23:00:00"}, "timestamptz", "infinity"),
        ({"stringValue": "-292275055-05-16 23:00:00"}, "timestamptz", "-infinity"),
        ({"stringValue": "+292278994-08-16"}, "date", "infinity"),
        ({"stringValue": "-292275055-05-16"}, "date", "-infinity"),
        ({"stringValue": "+10000-01-01 13:59:59"}, "timestamptz", "+10000-01-01 13:59:59"),
        ({"stringValue": "0000-12-29 10:00:00"}, "timestamp", "0000-12-29 10:00:00"),
        ({"stringValue": "-0043-03-13"}, "date", "-0043-03-13"),
        ({"stringValue": "0044-03-15 12:00:00 BC"}, "timestamptz", "0044-03-15 12:00:00 BC"),  # PostgreSQL's own
        ({"stringValue": "24:00:00"}, "time", "24:00:00"),
        (
            {"arrayValue": {"stringValues": ["2026-03-08", "+10000-01-01", None]}},
            "_date",
            [date(2026, 3, 8), "+10000-01-01", None],
        ),
        # The ends of Python's range still decode as datetimes and dates.
        ({"stringValue": "0001-01-01 00:00:00"}, "timestamptz", datetime(1, 1, 1, tzinfo=UTC)),
        ({"stringValue": "9999-12-31 23:59:59.999999"}, "timestamptz", datetime.max.replace(tzinfo=UTC)),
        ({"stringValue": "9999-12-31"}, "date", date.max),
    ],
)
def test_dates_and_times_python_cannot_hold_decode_as_the_data_apis_text(
    field: dict[str, Any], type_name: str, decoded: Any
) -> None:
    assert decode_field(field, type_name) == decoded

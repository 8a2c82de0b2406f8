"""How D1 values become column values, and the canonical text both sides of a verification are compared by."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from local.importers.d1_values import Kind, Refused, fit, jsonb_text, parse_document, row_digest

NUMERIC = Kind.of("numeric(18,6)")
STRIKE = Kind.of("numeric(18,4)")


def test_kinds_are_read_from_catalog_type_names() -> None:
    assert Kind.of("numeric(5,4)") == Kind("numeric", 5, 4)
    assert Kind.of("timestamp with time zone").name == "timestamp with time zone"
    with pytest.raises(ValueError, match="bytea"):
        Kind.of("bytea")


def test_a_real_is_rounded_half_away_from_zero_to_the_column_scale_as_postgresql_does() -> None:
    assert fit(STRIKE, "strike", Decimal("101.12345")) == ("101.1235", "101.1235")
    assert fit(STRIKE, "strike", Decimal("-101.12345")) == ("-101.1235", "-101.1235")
    # The canonical text is what PostgreSQL prints once it holds the value: no negative zero.
    assert fit(STRIKE, "strike", Decimal("-0.00001")) == ("-0.0000", "0.0000")


def test_numbers_past_the_column_precision_or_not_finite_are_refused_with_the_column_named() -> None:
    assert fit(NUMERIC, "average_cost", Decimal("999999999999.999999"))[0] == "999999999999.999999"
    with pytest.raises(Refused, match=r"average_cost: 1000000000000 does not fit numeric\(18,6\)"):
        fit(NUMERIC, "average_cost", Decimal("1000000000000"))
    with pytest.raises(Refused, match="not a number"):
        fit(NUMERIC, "average_cost", "12.5")
    with pytest.raises(Refused, match="finite"):
        fit(NUMERIC, "average_cost", Decimal("NaN"))


def test_integers_are_bounded_by_their_column_type() -> None:
    assert fit(Kind.of("integer"), "quantity", 2**31 - 1)[1] == str(2**31 - 1)
    with pytest.raises(Refused, match="does not fit in a PostgreSQL integer"):
        fit(Kind.of("integer"), "quantity", 2**31)
    with pytest.raises(Refused, match="not a whole number"):
        fit(Kind.of("bigint"), "id", True)


def test_text_postgresql_cannot_hold_is_refused() -> None:
    text = Kind.of("text")
    assert fit(text, "name", 'Zoë "O\'Brien"') == ('"Zoë \\"O\'Brien\\""', 'Zoë "O\'Brien"')
    with pytest.raises(Refused, match="NUL"):
        fit(text, "name", "a\x00b")
    with pytest.raises(Refused, match="surrogate"):
        fit(text, "name", "a\ud800b")
    with pytest.raises(Refused, match="not text"):
        fit(text, "name", b"bytes")


def test_an_instant_is_compared_in_utc_whatever_offset_it_came_with() -> None:
    kind = Kind.of("timestamp with time zone")
    moment = datetime(2026, 3, 9, 9, 30, tzinfo=timezone(timedelta(hours=-4)))
    fragment, text = fit(kind, "created_at", moment)
    assert json.loads(fragment) == text == "2026-03-09T13:30:00+00:00"
    assert fit(kind, "created_at", moment.replace(microsecond=250))[1] == "2026-03-09T13:30:00.000250+00:00"
    with pytest.raises(Refused, match="not an instant"):
        fit(kind, "created_at", datetime(2026, 3, 9))  # noqa: DTZ001 - a naive datetime is what is refused


def test_dates_booleans_and_text_arrays() -> None:
    assert fit(Kind.of("date"), "expiration", date(2026, 1, 16)) == ('"2026-01-16"', "2026-01-16")
    assert fit(Kind.of("boolean"), "auto_run", True) == ("true", "true")
    with pytest.raises(Refused, match="not true or false"):
        fit(Kind.of("boolean"), "auto_run", 1)
    assert fit(Kind.of("text[]"), "scopes", []) == ("[]", "[]")
    assert fit(Kind.of("text[]"), "scopes", ["admin", "service"]) == ('["admin", "service"]', '["admin", "service"]')


def test_null_is_null_whatever_the_kind() -> None:
    assert fit(STRIKE, "strike", None) == ("null", None)


def test_a_document_is_sent_as_written_and_compared_as_jsonb_prints_it() -> None:
    written = parse_document('{"bb": [1.50, 1e2, -0.0], "a": "\\u00fc", "ccc": {}}')
    fragment, text = fit(Kind.of("jsonb"), "result", written)
    assert fragment == '{"bb": [1.50, 1e2, -0.0], "a": "\\u00fc", "ccc": {}}'  # the text D1 held, not a re-encoding
    # jsonb orders keys shortest first and prints numbers as numeric does.
    assert text == '{"a": "ü", "bb": [1.50, 100, 0.0], "ccc": {}}'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"rsi": ', "not valid JSON"),
        ('{"rsi": NaN}', "not valid JSON"),
        ('["\\u0000"]', "u0000"),
        ('{"\\ud800": 1}', "lone surrogate"),
    ],
)
def test_documents_jsonb_refuses_are_refused_before_postgresql_sees_them(text: str, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        parse_document(text)


def test_jsonb_text_and_row_digests() -> None:
    assert jsonb_text({"é": True, "b": None, "aa": [Decimal("1E-7"), "x\n"]}) == (
        '{"b": null, "aa": [0.0000001, "x\\n"], "é": true}'  # "é" is two bytes: it sorts with "aa", by its bytes
    )
    assert row_digest(["1", None]) == row_digest(["1", None])
    assert row_digest(["1", None]) != row_digest([None, "1"])

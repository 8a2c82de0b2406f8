"""How D1 values become column values, and the canonical text both sides of a verification are compared by."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from local.importers.d1_values import Kind, Refused, canonical_json, canonical_stored, fit, parse_document

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
    # What PostgreSQL gives back for it reads as the same canonical text.
    assert canonical_stored(STRIKE, Decimal("101.1235")) == "101.1235"


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
    assert json.loads(fragment) == "2026-03-09T13:30:00+00:00"
    assert text == canonical_stored(kind, "2026-03-09T13:30:00+00:00")
    with pytest.raises(Refused, match="not an instant"):
        fit(kind, "created_at", datetime(2026, 3, 9))  # noqa: DTZ001 - a naive datetime is what is refused


def test_dates_booleans_and_text_arrays() -> None:
    assert fit(Kind.of("date"), "expiration", date(2026, 1, 16)) == ('"2026-01-16"', "2026-01-16")
    assert fit(Kind.of("boolean"), "auto_run", True) == ("true", "true")
    with pytest.raises(Refused, match="not true or false"):
        fit(Kind.of("boolean"), "auto_run", 1)
    assert fit(Kind.of("text[]"), "scopes", []) == ("[]", "[]")
    assert canonical_stored(Kind.of("text[]"), []) == "[]"


def test_null_is_null_whatever_the_kind() -> None:
    assert fit(STRIKE, "strike", None) == ("null", None)
    assert canonical_stored(STRIKE, None) is None


def test_a_document_is_sent_as_written_and_compared_as_jsonb_normalises_it() -> None:
    written = parse_document('{"b": [1.50, 1e2, -0.0], "a": "\\u00fc"}')
    fragment, text = fit(Kind.of("jsonb"), "result", written)
    assert fragment == '{"b": [1.50, 1e2, -0.0], "a": "\\u00fc"}'  # the text D1 held, not a re-encoding
    # jsonb prints it with its keys in its own order and its numbers as numeric: the same canonical text.
    stored = json.loads('{"a": "ü", "b": [1.50, 100, 0]}', parse_float=Decimal, parse_int=Decimal)
    assert text == canonical_stored(Kind.of("jsonb"), stored) == '{"a":"ü","b":[1.5,100,0]}'


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


def test_canonical_json_is_one_text_per_value() -> None:
    assert canonical_json({"b": Decimal("1.0"), "a": [True, None, "x"]}) == '{"a":[true,null,"x"],"b":1}'
    assert canonical_json(Decimal("0.000")) == "0"
    assert canonical_json(Decimal("1E-7")) == "0.0000001"

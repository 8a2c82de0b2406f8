"""Screener criteria: what a run can evaluate (anything else refused, by name) and how a candidate is judged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ttai.errors import InvalidField
from ttai.models.market import Quote
from ttai.services.screening import Candidate, matches, parse_criteria

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def candidate(last: float | None = 100.0, recommendation: str | None = None, **quote: Any) -> Candidate:
    q = Quote(symbol="AAPL", last=last, updated_at=NOW, **quote) if last is not None else None
    return Candidate("AAPL", q, recommendation, NOW if recommendation else None)


def test_unknown_criteria_are_refused_by_name() -> None:
    with pytest.raises(InvalidField, match="min_iv_rank: not a criterion a run can evaluate") as refused:
        parse_criteria({"min_iv_rank": 30, "max_dte": 45, "min_price": 10})
    assert "max_dte" in str(refused.value)
    assert refused.value.field == "criteria"


@pytest.mark.parametrize(
    "criteria",
    [
        {"min_price": -1},
        {"min_price": "cheap"},
        {"recommendation": ["buy"]},
        {"symbols": []},
        {"symbols": ["AAPL"], "watchlist": "tech"},
    ],
)
def test_criteria_that_cannot_be_evaluated_are_refused(criteria: dict[str, Any]) -> None:
    with pytest.raises(InvalidField, match="this screener cannot be run"):
        parse_criteria(criteria)


def test_symbols_are_normalised() -> None:
    assert parse_criteria({"symbols": ["aapl", " msft "]}).symbols == ["AAPL", "MSFT"]


@pytest.mark.parametrize(
    ("criteria", "judged", "expected"),
    [
        ({}, candidate(), True),
        ({"min_price": 100}, candidate(100.0), True),
        ({"min_price": 100.01}, candidate(100.0), False),
        ({"max_price": 50}, candidate(100.0), False),
        ({"min_price": 1}, candidate(None), False),  # no current quote: a quote condition cannot hold
        ({"min_volume": 1000}, candidate(volume=999), False),
        ({"min_volume": 1000}, candidate(volume=1000), True),
        ({"min_volume": 1000}, candidate(), False),  # volume unknown
        ({"min_change_percent": 1.5}, candidate(change_percent=2.0), True),
        ({"max_change_percent": -1}, candidate(change_percent=2.0), False),
        ({"recommendation": ["select"]}, candidate(None, "select"), True),
        ({"recommendation": ["select", "neutral"]}, candidate(None, "reject"), False),
        ({"recommendation": ["select"]}, candidate(None, None), False),  # never analysed
        ({"min_price": 10, "recommendation": ["select"]}, candidate(100.0, "select"), True),
    ],
)
def test_a_candidate_matches_when_every_criterion_holds(
    criteria: dict[str, Any], judged: Candidate, expected: bool
) -> None:
    assert matches(parse_criteria(criteria), judged) is expected

"""Screener criteria: what a run can evaluate (anything else refused, by name) and how a candidate is judged."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from ttai.errors import InvalidField
from ttai.models.market import CompanyInfo, OptionChain, OptionContract, Quote
from ttai.services.screeners.evaluation import Candidate, matches, parse_criteria

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)


def candidate(last: float | None = 100.0, recommendation: str | None = None, **quote: Any) -> Candidate:
    q = Quote(symbol="AAPL", last=last, updated_at=NOW, **quote) if last is not None else None
    return Candidate("AAPL", q, recommendation, NOW if recommendation else None)


def test_unknown_criteria_are_refused_by_name() -> None:
    with pytest.raises(InvalidField, match="min_iv_rank: not a criterion a run can evaluate") as refused:
        parse_criteria({"min_iv_rank": 30, "max_dte": 45, "min_price": 10, "pe_ratio": 12})
    assert "pe_ratio: not a criterion" in str(refused.value)
    assert "max_dte" not in str(refused.value)  # that one a run can evaluate
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
    assert matches(parse_criteria(criteria), judged, TODAY) is expected


def put(expiration: date, bid: float | None, delta: float | None, open_interest: int | None = 500) -> OptionContract:
    return OptionContract(
        symbol="AAPL  261218P00190000",
        option_type="put",
        strike=190.0,
        expiration=expiration,
        bid=bid,
        delta=delta,
        open_interest=open_interest,
    )


def with_chain(*contracts: OptionContract, sector: str | None = "Technology") -> Candidate:
    chain = OptionChain(symbol="AAPL", contracts=list(contracts), updated_at=NOW)
    company = CompanyInfo(symbol="AAPL", name="Apple", sector=sector, updated_at=NOW)
    return Candidate("AAPL", None, None, None, company, chain)


IN_30_DAYS = date(2026, 12, 20)
CSP = {"min_dte": 20, "max_dte": 45, "min_delta": 0.15, "max_delta": 0.30, "min_premium": 1.0, "min_open_interest": 100}


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        (put(IN_30_DAYS, 2.5, -0.25), True),
        (put(date(2026, 12, 1), 2.5, -0.25), False),  # 11 days: too soon
        (put(date(2027, 3, 1), 2.5, -0.25), False),  # too far
        (put(IN_30_DAYS, 2.5, -0.45), False),  # delta too large
        (put(IN_30_DAYS, 2.5, None), False),  # delta unknown
        (put(IN_30_DAYS, 0.5, -0.25), False),  # premium too small
        (put(IN_30_DAYS, None, -0.25), False),  # no bid
        (put(IN_30_DAYS, 2.5, -0.25, open_interest=10), False),
        (put(date(2026, 11, 19), 2.5, -0.25), False),  # expired
        (put(IN_30_DAYS, 2.5, -0.25).model_copy(update={"option_type": "call"}), False),
    ],
)
def test_a_cash_secured_put_screen_needs_one_put_meeting_every_condition(
    contract: OptionContract, expected: bool
) -> None:
    assert matches(parse_criteria(CSP), with_chain(contract), TODAY) is expected


def test_the_best_put_is_reported_with_the_count() -> None:
    criteria = parse_criteria(CSP)
    judged = with_chain(put(IN_30_DAYS, 1.5, -0.2), put(IN_30_DAYS, 2.5, -0.25), put(IN_30_DAYS, 9.0, -0.6))
    result = judged.as_result(criteria, TODAY)
    assert result["puts_matching"] == 2
    assert (result["best_put"]["bid"], result["best_put"]["dte"], result["best_put"]["delta"]) == (2.5, 30, -0.25)
    assert "sector" not in result  # only what the criteria asked about


def test_no_cached_chain_matches_no_put_criterion() -> None:
    judged = Candidate("AAPL", None, None, None)
    assert matches(parse_criteria({"max_dte": 45}), judged, TODAY) is False


@pytest.mark.parametrize(
    ("sector", "wanted", "expected"),
    [
        ("Technology", "technology", True),
        ("Technology", ["Energy", "TECHNOLOGY"], True),
        ("Energy", "technology", False),
        (None, "technology", False),
    ],
)
def test_sector_comes_from_the_cached_company_information(sector: str | None, wanted: Any, expected: bool) -> None:
    assert matches(parse_criteria({"sector": wanted}), with_chain(sector=sector), TODAY) is expected

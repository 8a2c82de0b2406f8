"""TastyTrade's documents as our models: symbols routed by instrument type, quotes, chains, company information and
the positions a sync applies (netted over accounts, closed and unsupported ones left out with a reason)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ttai.services.tastytrade.convert import chain_contracts, chain_from, company_from, positions_from, quote_from
from ttai.services.tastytrade.documents import (
    CurrentPosition,
    EquityInstrument,
    MarketDataItem,
    NestedOptionChain,
)
from ttai.services.tastytrade.symbols import by_type_requests, parse_occ, upstream

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
PUT = "SPY   260320P00580000"


@pytest.mark.parametrize(
    ("ours", "parameter", "theirs"),
    [
        ("AAPL", "equity", "AAPL"),
        ("BRK/B", "equity", "BRK/B"),
        ("$SPX", "index", "SPX"),
        ("^VIX", "index", "VIX"),
        ("/ESZ5", "future", "/ESZ5"),
        ("BTC/USD", "cryptocurrency", "BTC/USD"),
        (PUT, "equity-option", PUT),
    ],
)
def test_each_symbol_goes_under_its_instrument_type(ours: str, parameter: str, theirs: str) -> None:
    target = upstream(ours)
    assert (target.parameter, target.symbol) == (parameter, theirs)


def test_requests_hold_at_most_100_upstream_symbols_and_each_is_asked_once() -> None:
    symbols = [f"T{n:04d}" for n in range(230)] + ["$SPX", "T0001", "^SPX"]
    requests = by_type_requests(symbols)
    assert [r.size for r in requests] == [100, 100, 31]
    assert requests[2].asked_as["SPX"] == ["$SPX", "^SPX"]
    assert requests[2].query() == {
        "equity": ",".join(f"T{n:04d}" for n in range(200, 230)),
        "index": "SPX",
    }


def test_occ_symbols_give_their_parts() -> None:
    option = parse_occ(PUT)
    assert option is not None
    assert (option.root, option.expiration, option.option_type, option.strike) == (
        "SPY",
        date(2026, 3, 20),
        "put",
        Decimal("580"),
    )
    assert parse_occ("AAPL") is None
    assert parse_occ("SPY   261399C00580000") is None  # no 99th day


def item(**fields: Any) -> MarketDataItem:
    return MarketDataItem.model_validate({"symbol": "AAPL", "instrument-type": "Equity", **fields})


def test_a_quote_takes_prices_sizes_and_the_change_from_the_previous_close() -> None:
    quote = quote_from(
        item(**{
            "updated-at": "2026-03-09T14:59:58.250Z",
            "bid": "190.42", "bid-size": "300.0", "ask": "190.58", "ask-size": "2.5",
            "last": "190.5", "prev-close": "188.0", "volume": "33217646.0",
        }),
        "AAPL",
        now=NOW,
    )  # fmt: skip
    assert quote is not None
    assert quote.model_dump(exclude={"updated_at"}) == {
        "symbol": "AAPL",
        "bid": 190.42,
        "ask": 190.58,
        "last": 190.5,
        "bid_size": 300,
        "ask_size": 2,
        "volume": 33217646,
        "change": 2.5,
        "change_percent": 1.3298,
    }
    assert quote.updated_at == datetime(2026, 3, 9, 14, 59, 58, 250000, tzinfo=UTC)


def test_a_quote_without_a_last_trade_uses_the_mark_and_one_with_no_price_is_none() -> None:
    marked = quote_from(item(mark="12.5", mid="12.4", last="NaN"), "AAPL", now=NOW)
    assert marked is not None
    assert (marked.last, marked.updated_at) == (12.5, NOW)
    assert quote_from(item(bid="1.0"), "AAPL", now=NOW) is None


def test_company_information_is_what_tastytrade_has_of_an_equity() -> None:
    equity = EquityInstrument.model_validate(
        {"symbol": "SPY", "description": "SPDR S&P 500 ETF TRUST", "listed-market": "ARCX", "is-etf": True}
    )
    info = company_from(equity, "SPY", now=NOW)
    assert (info.name, info.exchange, info.sector, info.market_cap) == ("SPDR S&P 500 ETF TRUST", "ARCX", None, None)


CHAIN = NestedOptionChain.model_validate(
    {
        "underlying-symbol": "SPY",
        "root-symbol": "SPY",
        "option-chain-type": "Standard",
        "expirations": [
            {
                "expiration-date": "2026-03-27",
                "strikes": [{"strike-price": "575.0", "call": "SPY   260327C00575000", "put": "SPY   260327P00575000"}],
            },
            {
                "expiration-date": "2026-03-20",
                "strikes": [
                    {"strike-price": "585.0", "call": "SPY   260320C00585000", "put": "SPY   260320P00585000"},
                    {"strike-price": "580.0", "call": "SPY   260320C00580000", "put": PUT},
                ],
            },
        ],
    }
)


def test_a_chains_contracts_are_ordered_by_expiration_strike_and_call_first() -> None:
    every = chain_contracts([CHAIN], None)
    assert [c.symbol for c in every] == [
        "SPY   260320C00580000",
        PUT,
        "SPY   260320C00585000",
        "SPY   260320P00585000",
        "SPY   260327C00575000",
        "SPY   260327P00575000",
    ]
    assert [c.symbol for c in chain_contracts([CHAIN], date(2026, 3, 27))] == [
        "SPY   260327C00575000",
        "SPY   260327P00575000",
    ]


def test_a_chain_carries_market_data_where_there_is_some() -> None:
    contracts = chain_contracts([CHAIN], date(2026, 3, 20))
    quotes = {PUT: item(symbol=PUT, bid="3.1", ask="3.3", last="3.2", volume="120", **{"open-interest": "4500"})}
    chain = chain_from("SPY", date(2026, 3, 20), contracts, quotes, underlying_price=585.3, now=NOW)
    put = next(c for c in chain.contracts if c.symbol == PUT)
    assert (put.option_type, put.strike, put.bid, put.ask, put.volume, put.open_interest) == (
        "put",
        580.0,
        3.1,
        3.3,
        120,
        4500,
    )
    call = chain.contracts[0]
    assert (call.option_type, call.bid, call.open_interest) == ("call", None, None)
    assert (chain.symbol, chain.underlying_price, len(chain.contracts)) == ("SPY", 585.3, 4)


def position(account: str, symbol: str, quantity: str, direction: str = "Long", **fields: Any) -> CurrentPosition:
    kind = "Equity Option" if len(symbol) == 21 else "Equity"
    return CurrentPosition.model_validate(
        {
            "account-number": account,
            "symbol": symbol,
            "instrument-type": fields.pop("instrument_type", kind),
            "quantity": quantity,
            "quantity-direction": direction,
            "average-open-price": fields.pop("price", "100.0"),
            "created-at": fields.pop("created_at", "2025-01-02T15:00:00Z"),
            **fields,
        }
    )


def test_positions_net_over_accounts_with_the_cost_of_the_side_that_remains() -> None:
    synced = positions_from(
        [
            position("A1", "AAPL", "100", price="170.0", created_at="2025-02-01T15:00:00Z"),
            position("A2", "AAPL", "50", price="190.0", created_at="2024-06-01T15:00:00Z"),
            position("A1", PUT, "2", "Short", price="3.1"),
            position("A2", "MSFT", "10", price="400.0"),
            position("A1", "MSFT", "10", "Short", price="410.0"),
        ]
    )
    assert synced.skipped == []
    by_symbol = {p.symbol: p for p in synced.positions}
    assert sorted(by_symbol) == ["AAPL", PUT]  # MSFT nets to nothing
    apple = by_symbol["AAPL"]
    assert (apple.quantity, apple.direction, apple.average_cost) == (150, "long", Decimal("176.666667"))
    assert apple.opened_at == datetime(2024, 6, 1, 15, 0, tzinfo=UTC)
    put = by_symbol[PUT]
    assert (put.position_type, put.option_type, put.strike, put.expiration) == (
        "option",
        "put",
        Decimal("580"),
        date(2026, 3, 20),
    )
    assert (put.quantity, put.direction, put.average_cost) == (2, "short", Decimal("3.1"))


def test_closed_positions_vanish_and_unsupported_ones_are_reported_not_dropped() -> None:
    synced = positions_from(
        [
            position("A1", "TSLA", "0", "Zero"),
            position("A1", "/ESZ5", "1", instrument_type="Future"),
            position("A1", "AAPL", "0.5"),
            position("A1", "NVDA", "3"),
        ]
    )
    assert [p.symbol for p in synced.positions] == ["NVDA"]
    assert [(s.account_number, s.symbol, s.reason) for s in synced.skipped] == [
        ("A1", "/ESZ5", "Future positions are not synced"),
        ("A1", "AAPL", "fractional quantities are not synced"),
    ]

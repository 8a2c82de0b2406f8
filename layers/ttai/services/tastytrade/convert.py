"""TastyTrade's documents as our models: quotes, option chains, company information and the positions a sync applies.

What TastyTrade does not provide stays empty rather than invented: no greeks or implied volatility over REST (they
stream through DXLink), no sector, industry or market cap for an equity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from ttai.models.market import CompanyInfo, OptionChain, OptionContract, Quote, normalize_symbol
from ttai.models.positions import PositionIn
from ttai.observability import logger
from ttai.services.tastytrade.documents import (
    CurrentPosition,
    EquityInstrument,
    MarketDataItem,
    NestedOptionChain,
)
from ttai.services.tastytrade.symbols import parse_occ

# Position instrument types a sync applies; futures, their options and crypto have no place in the positions table.
EQUITY, EQUITY_OPTION = "Equity", "Equity Option"
_COMPANY_NAME_MAX = 200


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _count(value: Decimal | None) -> int | None:
    """Sizes and volumes as whole numbers (TastyTrade sends decimals: crypto sizes are fractional)."""
    return None if value is None or value < 0 else int(value)


def _aware(moment: datetime | None, default: datetime) -> datetime:
    if moment is None:
        return default
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def quote_from(item: MarketDataItem, symbol: str, *, now: datetime) -> Quote | None:
    """Our quote of ``symbol`` from a by-type item; None when it has no price at all (last, mark or mid)."""
    last = item.last if item.last is not None else item.mark if item.mark is not None else item.mid
    if last is None:
        return None
    document: dict[str, Any] = {
        "symbol": symbol,
        "bid": _float(item.bid) if item.bid is not None and item.bid >= 0 else None,
        "ask": _float(item.ask) if item.ask is not None and item.ask >= 0 else None,
        "last": float(last),
        "bid_size": _count(item.bid_size),
        "ask_size": _count(item.ask_size),
        "volume": _count(item.volume),
        "updated_at": _aware(item.updated_at, now),
    }
    if item.prev_close is not None and item.prev_close > 0:
        change = last - item.prev_close
        document["change"] = float(change)
        document["change_percent"] = round(float(change / item.prev_close * 100), 4)
    try:
        return Quote.model_validate(document)
    except ValidationError as exc:
        logger.warning("a TastyTrade quote does not fit ours", extra={"symbol": symbol, "problems": exc.error_count()})
        return None


def company_from(equity: EquityInstrument, symbol: str, *, now: datetime) -> CompanyInfo:
    name = (equity.description or equity.short_description or equity.symbol).strip()[:_COMPANY_NAME_MAX]
    return CompanyInfo.model_validate(
        {
            "symbol": symbol,
            "name": name,
            "exchange": equity.listed_market.strip()[:20] if equity.listed_market else None,
            "updated_at": now,
        }
    )


@dataclass(frozen=True, slots=True)
class ChainContract:
    symbol: str  # OCC, as TastyTrade names it
    option_type: str
    strike: Decimal
    expiration: date


def chain_contracts(chains: Iterable[NestedOptionChain], expiration: date | None) -> list[ChainContract]:
    """Every contract of the nested chains, of one expiration or all, ordered by expiration, strike, call first."""
    contracts: dict[str, ChainContract] = {}
    for chain in chains:
        for listed in chain.expirations:
            if expiration is not None and listed.expiration_date != expiration:
                continue
            for strike in listed.strikes:
                for option_type, symbol in (("call", strike.call), ("put", strike.put)):
                    if symbol:
                        contracts[symbol] = ChainContract(
                            symbol, option_type, strike.strike_price, listed.expiration_date
                        )
    return sorted(contracts.values(), key=lambda c: (c.expiration, c.strike, c.option_type != "call", c.symbol))


def chain_from(
    symbol: str,
    expiration: date | None,
    contracts: Iterable[ChainContract],
    quotes: Mapping[str, MarketDataItem],
    *,
    underlying_price: float | None,
    now: datetime,
) -> OptionChain:
    """Our chain: the contracts, each with its market data when ``quotes`` has it (keyed by TastyTrade symbol)."""
    rows = []
    for contract in contracts:
        row: dict[str, Any] = {
            "symbol": contract.symbol,
            "option_type": contract.option_type,
            "strike": float(contract.strike),
            "expiration": contract.expiration,
        }
        item = quotes.get(contract.symbol)
        if item is not None:
            row |= {
                "bid": _float(item.bid) if item.bid is not None and item.bid >= 0 else None,
                "ask": _float(item.ask) if item.ask is not None and item.ask >= 0 else None,
                "last": _float(item.last) if item.last is not None and item.last >= 0 else None,
                "volume": _count(item.volume),
                "open_interest": _count(item.open_interest),
            }
        rows.append(OptionContract.model_validate(row))
    return OptionChain(
        symbol=symbol,
        expiration=expiration,
        underlying_price=underlying_price,
        contracts=rows,
        updated_at=now,
    )


@dataclass(frozen=True, slots=True)
class SkippedPosition:
    account_number: str
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class BrokerPositions:
    """The open positions a full sync applies, and what it left out (and why) so nothing is dropped silently."""

    positions: list[PositionIn]
    skipped: list[SkippedPosition]


@dataclass
class _Holding:
    document: dict[str, Any]
    signed: Decimal  # long positive, short negative, summed over accounts
    long_cost: Decimal  # quantity x average open price, per side
    short_cost: Decimal
    long_quantity: Decimal
    short_quantity: Decimal
    opened_at: datetime | None


def positions_from(items: Iterable[CurrentPosition]) -> BrokerPositions:
    """The caller's open positions across their accounts, one per (symbol, option type, strike, expiration) as our
    table keeps them: quantities net over accounts (long minus short), the cost averaged over the side that remains,
    opened at the earliest. Zero quantities are closed positions (TastyTrade purges them overnight)."""
    holdings: dict[tuple[Any, ...], _Holding] = {}
    skipped: list[SkippedPosition] = []
    for item in items:
        reason = _unsyncable(item)
        if reason == "closed":
            continue
        if reason is not None:
            skipped.append(SkippedPosition(item.account_number, item.symbol, reason))
            continue
        try:
            document = _position_document(item)
        except ValueError:
            skipped.append(SkippedPosition(item.account_number, item.symbol, "not a symbol our positions take"))
            continue
        key = (document["symbol"], document.get("option_type"), document.get("strike"), document.get("expiration"))
        holding = holdings.setdefault(
            key, _Holding(document, Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0), None)
        )
        price = item.average_open_price or Decimal(0)
        if item.quantity_direction == "Long":
            holding.signed += item.quantity
            holding.long_quantity += item.quantity
            holding.long_cost += item.quantity * price
        else:
            holding.signed -= item.quantity
            holding.short_quantity += item.quantity
            holding.short_cost += item.quantity * price
        if item.created_at is not None and (holding.opened_at is None or item.created_at < holding.opened_at):
            holding.opened_at = item.created_at
    positions: list[PositionIn] = []
    for holding in holdings.values():
        if holding.signed == 0:
            continue  # long in one account, as short in another: nothing open on our side
        long = holding.signed > 0
        quantity, cost = (
            (holding.long_quantity, holding.long_cost) if long else (holding.short_quantity, holding.short_cost)
        )
        document = holding.document | {
            "quantity": int(abs(holding.signed)),
            "direction": "long" if long else "short",
            "average_cost": (cost / quantity).quantize(Decimal("0.000001")),
            "opened_at": holding.opened_at,
        }
        try:
            positions.append(PositionIn.model_validate(document))
        except ValidationError as exc:
            skipped.append(SkippedPosition("", document["symbol"], f"does not fit a position: {exc.error_count()}"))
    return BrokerPositions(positions=positions, skipped=skipped)


def _unsyncable(item: CurrentPosition) -> str | None:
    """Why a position is not synced ("closed" for a zero quantity), or None."""
    if item.quantity == 0 or item.quantity_direction == "Zero":
        return "closed"
    if item.instrument_type not in (EQUITY, EQUITY_OPTION):
        return f"{item.instrument_type} positions are not synced"
    if item.quantity < 0 or item.quantity_direction not in ("Long", "Short"):
        return "quantity or direction is not one TastyTrade documents"
    if item.quantity != item.quantity.to_integral_value():
        return "fractional quantities are not synced"
    return None


def _position_document(item: CurrentPosition) -> dict[str, Any]:
    """The position's identifying fields, its symbol in our canonical form (ValueError when it has none)."""
    symbol = normalize_symbol(item.symbol)
    if item.instrument_type == EQUITY:
        return {"symbol": symbol, "position_type": "stock"}
    option = parse_occ(symbol)
    if option is None:
        raise ValueError(f"{item.symbol!r} is not an OCC option symbol")
    return {
        "symbol": symbol,
        "position_type": "option",
        "option_type": option.option_type,
        "strike": option.strike,
        "expiration": option.expiration,
    }

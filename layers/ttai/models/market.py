"""Market data as it crosses the edge: symbols, quotes, option chains, company info."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
)

from ttai.models.base import Output, Strict
from ttai.models.text import SingleLine, Text
from ttai.models.times import CalendarDate, Timestamp

# Equities and ETFs (BRK.B, BRK/B), indices ($SPX, ^VIX), futures roots (/ES), and OCC option symbols:
# a root of 1-6 characters padded with spaces to six, YYMMDD, C or P, and the strike x 1000 in 8 digits.
_TICKER = re.compile(r"[A-Z][A-Z0-9]{0,5}(?:[./][A-Z0-9]{1,3})?")
_INDEX = re.compile(r"[$^/][A-Z0-9]{1,6}")
_OCC = re.compile(r"(?P<root>[A-Z0-9]{1,6}) *(?P<date>[0-9]{6})(?P<right>[CP])(?P<strike>[0-9]{8})")
SYMBOL_MAX_LENGTH = 21
MAX_SYMBOLS_PER_REQUEST = 500


def normalize_symbol(value: str) -> str:
    """The canonical form of a ticker or OCC option symbol (upper case, OCC roots padded to 6), or ValueError.

    Whitespace around it is dropped (lists arrive as ``AAPL, MSFT``); what is kept is the canonical form, all ASCII.
    Non-ASCII input is refused before upper-casing, which would turn some letters into ASCII ones (the long s into S).
    """
    if not isinstance(value, str):
        raise ValueError("a symbol must be a string")
    if not value.isascii():
        raise ValueError("a symbol is ASCII letters, digits and . / $ ^")
    symbol = value.strip().upper()
    if not symbol or len(symbol) > SYMBOL_MAX_LENGTH:
        raise ValueError(f"a symbol is 1-{SYMBOL_MAX_LENGTH} characters")
    if _TICKER.fullmatch(symbol) or _INDEX.fullmatch(symbol):
        return symbol
    occ = _OCC.fullmatch(symbol)
    if occ:
        try:
            datetime.strptime(occ["date"], "%y%m%d")  # noqa: DTZ007 - a calendar date, no time zone involved
        except ValueError as exc:
            raise ValueError(f"{value!r} has an invalid expiration date") from exc
        return f"{occ['root']:<6}{occ['date']}{occ['right']}{occ['strike']}"
    raise ValueError(f"{value!r} is not a ticker (AAPL, BRK.B, $SPX) or an OCC option symbol (AAPL  240119C00190000)")


Symbol = Annotated[str, AfterValidator(normalize_symbol), Field(examples=["AAPL", "SPY   250117P00500000"])]


def split_symbols(value: Any) -> Any:
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    return value


SymbolList = Annotated[
    list[Symbol],
    BeforeValidator(split_symbols),
    Field(min_length=1, max_length=MAX_SYMBOLS_PER_REQUEST),
]

Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Quote(Strict):
    symbol: Symbol
    bid: Price | None = None
    ask: Price | None = None
    last: Price
    bid_size: NonNegativeInt | None = None
    ask_size: NonNegativeInt | None = None
    volume: NonNegativeInt | None = None
    change: float | None = None
    change_percent: float | None = None
    updated_at: Timestamp = Field(description="when the quote was observed at the source (with time zone)")


class QuoteBatch(Strict):
    quotes: list[Quote] = Field(min_length=1, max_length=MAX_SYMBOLS_PER_REQUEST)


class QuotesResponse(Output):
    quotes: dict[str, Quote]
    missing: list[str]


class OptionContract(Strict):
    symbol: Symbol
    option_type: Annotated[str, Field(pattern="^(call|put)$")]
    strike: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    expiration: CalendarDate
    bid: Price | None = None
    ask: Price | None = None
    last: Price | None = None
    volume: NonNegativeInt | None = None
    open_interest: NonNegativeInt | None = None
    implied_volatility: NonNegativeFloat | None = None
    delta: Annotated[float, Field(ge=-1, le=1)] | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None


class OptionChain(Strict):
    symbol: Symbol
    expiration: CalendarDate | None = Field(default=None, description="None for a chain of every expiration")
    underlying_price: Price | None = None
    contracts: list[OptionContract] = Field(max_length=20_000)
    updated_at: Timestamp


class CompanyInfo(Strict):
    symbol: Symbol
    name: Annotated[SingleLine, Field(min_length=1, max_length=200)]
    sector: Annotated[SingleLine, Field(max_length=100)] | None = None
    industry: Annotated[SingleLine, Field(max_length=100)] | None = None
    exchange: Annotated[SingleLine, Field(max_length=20)] | None = None
    market_cap: NonNegativeFloat | None = None
    description: Annotated[Text, Field(max_length=5_000)] | None = None
    updated_at: Timestamp

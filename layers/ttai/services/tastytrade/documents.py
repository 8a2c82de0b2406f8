"""TastyTrade's documented response shapes, read as they arrive: dasherized keys, decimals as strings, the
``{"data": ...}`` envelope with ``items`` for lists. Fields TastyTrade may omit are optional; extra ones are ignored."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _decimal_or_none(value: Any) -> Any:
    """A number TastyTrade sends as a string ("190.5"), a JSON number, or nothing; "NaN", "" and infinities are
    nothing (a quote without a last trade is not an error of the whole response)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


Number = Annotated[Decimal | None, BeforeValidator(_decimal_or_none)]


def _dasherize(name: str) -> str:
    return name.replace("_", "-")


class Document(BaseModel):
    model_config = ConfigDict(
        alias_generator=_dasherize, populate_by_name=True, extra="ignore", frozen=True, defer_build=True
    )


class MarketDataItem(Document):
    """One item of GET /market-data/by-type."""

    symbol: str
    instrument_type: str
    updated_at: datetime | None = None
    bid: Number = None
    ask: Number = None
    bid_size: Number = None
    ask_size: Number = None
    mid: Number = None
    mark: Number = None
    last: Number = None
    open: Number = None
    day_high_price: Number = None
    day_low_price: Number = None
    prev_close: Number = None
    volume: Number = None
    open_interest: Number = None


class ChainStrike(Document):
    strike_price: Decimal
    call: str | None = None
    put: str | None = None
    call_streamer_symbol: str | None = None
    put_streamer_symbol: str | None = None


class ChainExpiration(Document):
    expiration_date: date
    expiration_type: str | None = None
    days_to_expiration: int | None = None
    settlement_type: str | None = None
    strikes: list[ChainStrike] = []


class NestedOptionChain(Document):
    """One item of GET /option-chains/{symbol}/nested (an underlying can have several: standard and adjusted)."""

    underlying_symbol: str
    root_symbol: str
    option_chain_type: str | None = None
    shares_per_contract: int | None = None
    expirations: list[ChainExpiration] = []


class OptionInstrument(Document):
    """One item of GET /option-chains/{symbol}: every option of the underlying, as an instrument."""

    symbol: str
    underlying_symbol: str
    root_symbol: str | None = None
    strike_price: Decimal
    expiration_date: date
    option_type: str  # "C" or "P"
    active: bool = True
    days_to_expiration: int | None = None
    expires_at: datetime | None = None
    shares_per_contract: int | None = None
    streamer_symbol: str | None = None


class EquityInstrument(Document):
    """GET /instruments/equities/{symbol}."""

    symbol: str
    description: str | None = None
    short_description: str | None = None
    listed_market: str | None = None
    is_index: bool = False
    is_etf: bool = False
    active: bool = True


class Account(Document):
    account_number: str
    nickname: str | None = None
    account_type_name: str | None = None
    margin_or_cash: str | None = None
    is_closed: bool = False
    opened_at: datetime | None = None


class AccountAuthority(Document):
    """One item of GET /customers/me/accounts: an account and the customer's authority over it."""

    account: Account
    authority_level: str | None = None


class CurrentPosition(Document):
    """One item of GET /accounts/{account_number}/positions. A quantity of 0 is a closed position."""

    account_number: str
    symbol: str
    instrument_type: str
    underlying_symbol: str | None = None
    quantity: Decimal
    quantity_direction: str  # Long, Short or Zero
    average_open_price: Number = None
    close_price: Number = None
    multiplier: Number = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

"""Trade journal entries as the API takes and gives them, and the one rule for their profit and loss."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ttai.models.base import Output, Strict
from ttai.models.market import Symbol
from ttai.models.text import SingleLine, Text
from ttai.models.times import CalendarDate, StoredDate, StoredInstant

Direction = Literal["long", "short"]
OPTION_MULTIPLIER = 100
MAX_QUANTITY = 100_000
# numeric(18, 4) in the schema; a million per unit keeps pnl (price x quantity x 100) inside numeric(18, 4).
UnitPrice = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=4, allow_inf_nan=False)]
_CENT = Decimal("0.01")
_PERCENT_LIMIT = Decimal(10) ** 8  # numeric(12, 4)


class Leg(Strict):
    type: Literal["stock", "call", "put"]
    side: Literal["buy", "sell"]
    ratio: Annotated[int, Field(ge=1, le=100)] = 1
    strike: Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=4, allow_inf_nan=False)] | None = None
    expiration: CalendarDate | None = None

    @model_validator(mode="after")
    def _option_fields_match_the_type(self) -> Leg:
        is_option = self.type != "stock"
        if is_option and (self.strike is None or self.expiration is None):
            raise ValueError("an option leg needs a strike and an expiration")
        if not is_option and (self.strike is not None or self.expiration is not None):
            raise ValueError("a stock leg has no strike or expiration")
        return self


class StoredLeg(BaseModel):
    """A leg as an entry holds it: what ``Leg`` took, with its expiration as stored (``ttai.models.times``)."""

    model_config = ConfigDict(defer_build=True)

    type: Literal["stock", "call", "put"]
    side: Literal["buy", "sell"]
    ratio: int = 1
    strike: Decimal | None = None
    expiration: StoredDate | None = None


def _one_kind_of_leg(legs: list[Leg]) -> list[Leg]:
    if len({leg.type == "stock" for leg in legs}) > 1:
        raise ValueError("an entry's legs are all stock or all options; journal a covered position as two entries")
    return legs


def multiplier(legs: Sequence[Leg | StoredLeg]) -> int:
    return 1 if all(leg.type == "stock" for leg in legs) else OPTION_MULTIPLIER


def profit_and_loss(
    direction: Direction, entry_price: Decimal, exit_price: Decimal, quantity: int, legs: Sequence[Leg | StoredLeg]
) -> tuple[Decimal, Decimal | None]:
    """pnl and pnl_percent by the rule in ``JournalEntryIn``'s docstring, in exact decimals."""
    units = quantity * multiplier(legs)
    gained = (exit_price - entry_price) * units
    pnl = (gained if direction == "long" else -gained).quantize(_CENT, rounding=ROUND_HALF_UP)
    basis = entry_price * units
    if basis == 0:
        return pnl, None
    percent = (pnl / basis * 100).quantize(_CENT, rounding=ROUND_HALF_UP)
    # A near-zero entry makes the ratio meaningless (and too wide for the column): no percent rather than a 500.
    return pnl, percent if abs(percent) < _PERCENT_LIMIT else None


class JournalEntryIn(Strict):
    """A trade as it was opened.

    An entry is either all stock legs or all option legs. ``entry_price`` and ``exit_price`` are non-negative amounts
    per unit of the whole position (one share, or one contract's per-share premium, net over the legs); ``direction``
    says which way the money went when it was opened: ``long`` paid a net debit, ``short`` received a net credit.
    A single leg, or legs that all share one side, imply it (buy -> long, sell -> short); mixed sides must state it.

        pnl         = (exit_price - entry_price) * quantity * multiplier, negated for short; rounded to cents
        pnl_percent = pnl / (entry_price * quantity * multiplier) * 100, rounded to 0.01 (None for a zero entry)
        multiplier  = 100 for option legs (one contract is 100 shares), 1 for stock

    So 10 shares bought at 100 and sold at 110 make 100.00 (10.00 %); a put sold for 2.50 and bought back at 1.00
    makes 150.00 (60.00 % of the credit).
    """

    symbol: Symbol
    strategy: Annotated[SingleLine, Field(min_length=1, max_length=100)]
    legs: Annotated[list[Leg], Field(min_length=1, max_length=8), AfterValidator(_one_kind_of_leg)]
    # validate_default: derived from the legs when left out, so the check must run then too.
    direction: Direction | None = Field(default=None, validate_default=True)
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 1
    entry_date: CalendarDate
    entry_price: UnitPrice
    notes: Annotated[Text, Field(max_length=10_000)] | None = None
    analysis_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None

    @field_validator("direction")
    @classmethod
    def _direction_fits_the_legs(cls, value: Direction | None, info: ValidationInfo) -> Direction | None:
        legs: list[Leg] | None = info.data.get("legs")  # absent when the legs were invalid (reported there)
        if not legs:
            return value
        sides = {leg.side for leg in legs}
        implied: Direction | None = None if len(sides) > 1 else ("long" if sides == {"buy"} else "short")
        if value is None and implied is None:
            raise ValueError("legs on both sides need a direction: long (opened for a debit) or short (for a credit)")
        if value is not None and implied is not None and value != implied:
            raise ValueError(f"legs that all {sides.pop()} make a {implied} entry, not {value}")
        return value or implied


class JournalClose(Strict):
    exit_price: UnitPrice
    exit_date: CalendarDate


class JournalEntry(Output):
    id: int
    symbol: str
    strategy: str
    legs: list[StoredLeg]
    direction: Direction
    quantity: int
    entry_date: StoredDate
    entry_price: Decimal
    exit_date: StoredDate | None
    exit_price: Decimal | None
    pnl: Decimal | None
    pnl_percent: Decimal | None
    notes: str | None
    analysis_id: int | None
    created_at: StoredInstant
    updated_at: StoredInstant

"""Positions as a sync takes them and the API gives them back (seed 000's fields plus direction)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import Field, PlainSerializer, StrictBool, model_validator

from ttai.models.base import Output, Strict
from ttai.models.market import Symbol
from ttai.models.times import CalendarDate, StoredDate, StoredInstant, Timestamp

MAX_SYNC_POSITIONS = 500
MAX_QUANTITY = 2**31 - 1  # the column is a PostgreSQL integer
PositionType = Literal["stock", "option"]
OptionType = Literal["call", "put"]
Direction = Literal["long", "short"]
PositionStatus = Literal["open", "closed"]
StatusFilter = Literal["open", "closed", "all"]
# Bounds are the columns' numeric(18, 6) and numeric(18, 4): a bigger value would be a database error, not a 422.
# Extra decimals of a cost are rounded by the column; extra decimals of a strike are refused, because two strikes
# that differ only there would collide in the unique index within one sync.
AverageCost = Annotated[Decimal, Field(ge=0, lt=Decimal(10) ** 12, allow_inf_nan=False)]
Strike = Annotated[Decimal, Field(gt=0, lt=Decimal(10) ** 14, decimal_places=4, allow_inf_nan=False)]
# Prices go out as JSON numbers, as clients of the seed's API read them.
Price = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
PositionKey = tuple[str, str | None, Decimal | None, date | None]


class PositionIn(Strict):
    """One open position as the broker reports it; closing is what a full sync does to the ones it omits."""

    symbol: Symbol
    quantity: Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY, description="a short is direction: short")]
    direction: Direction = "long"
    average_cost: AverageCost
    position_type: PositionType
    option_type: OptionType | None = None
    strike: Strike | None = None
    expiration: CalendarDate | None = None
    opened_at: Timestamp | None = None

    @model_validator(mode="after")
    def _option_fields_match_the_type(self) -> Self:
        given = {"option_type": self.option_type, "strike": self.strike, "expiration": self.expiration}
        if self.position_type == "stock" and any(v is not None for v in given.values()):
            carried = ", ".join(k for k, v in given.items() if v is not None)
            raise ValueError(f"a stock position has no option fields, got {carried}")
        if self.position_type == "option" and any(v is None for v in given.values()):
            missing = ", ".join(k for k, v in given.items() if v is None)
            raise ValueError(f"an option position needs option_type, strike and expiration; missing {missing}")
        return self

    @property
    def key(self) -> PositionKey:
        """What identifies an open position (the columns of the positions_open_unique index, less user_id)."""
        return (self.symbol, self.option_type, self.strike, self.expiration)


class PositionSync(Strict):
    positions: Annotated[list[PositionIn], Field(max_length=MAX_SYNC_POSITIONS)]
    full_sync: StrictBool = Field(default=False, description="close the caller's open positions not in the list")

    @model_validator(mode="after")
    def _one_entry_per_position(self) -> Self:
        # One INSERT cannot update the same row twice, so a repeated position would fail in the database.
        seen: dict[PositionKey, int] = {}
        for index, position in enumerate(self.positions):
            if position.key in seen:
                raise ValueError(f"positions {seen[position.key]} and {index} are the same position")
            seen[position.key] = index
        return self


class Position(Output):
    id: int
    symbol: str
    quantity: int
    direction: Direction
    average_cost: Price
    position_type: PositionType
    option_type: OptionType | None
    strike: Price | None
    expiration: StoredDate | None
    status: PositionStatus
    opened_at: StoredInstant | None
    closed_at: StoredInstant | None
    created_at: StoredInstant
    updated_at: StoredInstant


class SyncResult(Output):
    positions: list[Position] = Field(description="the positions the sync upserted, by id")
    upserted: int
    closed: int


class SkippedBrokerPosition(Output):
    account_number: str
    symbol: str
    reason: str


class BrokerSyncResult(Output):
    """A sync from TastyTrade: the open accounts read, what the full sync did, and what it left out and why
    (futures, crypto and fractional shares have no place in the positions table)."""

    accounts: list[str] = Field(description="the open TastyTrade accounts whose positions were read")
    positions: list[Position] = Field(description="the open positions the sync upserted, by id")
    upserted: int
    closed: int
    skipped: list[SkippedBrokerPosition]

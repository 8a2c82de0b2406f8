"""Daily price bars as a feed or an import sends them (``PUT /api/v1/bars``, ``ttai bars import``)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from ttai.models.base import Output, Strict
from ttai.models.market import Symbol
from ttai.models.times import CalendarDate

MAX_BARS_PER_REQUEST = 2000
SOURCE_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
# numeric(18, 6) in the schema: at most 12 digits before the point and 6 after; a price is positive.
BarPrice = Annotated[Decimal, Field(gt=0, lt=Decimal(10) ** 12, decimal_places=6, allow_inf_nan=False)]
Volume = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]
Source = Annotated[str, Field(pattern=SOURCE_PATTERN, examples=["feed", "csv"])]


class BarIn(Strict):
    symbol: Symbol
    date: CalendarDate
    open: BarPrice
    high: BarPrice
    low: BarPrice
    close: BarPrice
    volume: Volume

    @field_validator("date")
    @classmethod
    def _not_in_the_future(cls, value: dt.date) -> dt.date:
        # A day of slack: "today" differs by time zone, and a bar for the New York session may be dated ahead of UTC.
        latest = dt.datetime.fromtimestamp(time.time(), dt.UTC).date() + dt.timedelta(days=1)
        if value > latest:
            raise ValueError(f"a bar cannot be dated after {latest.isoformat()}")
        return value

    @model_validator(mode="after")
    def _prices_agree(self) -> Self:
        if self.high < self.low:
            raise ValueError(f"high {self.high} is below low {self.low}")
        if not (self.low <= self.open <= self.high and self.low <= self.close <= self.high):
            raise ValueError("open and close must lie between low and high")
        return self


class BarBatch(Strict):
    bars: Annotated[list[BarIn], Field(min_length=1, max_length=MAX_BARS_PER_REQUEST)]
    source: Source = "feed"

    @model_validator(mode="after")
    def _one_bar_per_day(self) -> Self:
        # One upsert cannot write the same row twice.
        seen: dict[tuple[str, dt.date], int] = {}
        for index, bar in enumerate(self.bars):
            key = (bar.symbol, bar.date)
            if key in seen:
                raise ValueError(f"bars {seen[key]} and {index} are both {bar.symbol} on {bar.date.isoformat()}")
            seen[key] = index
        return self


class BarsStored(Output):
    stored: int

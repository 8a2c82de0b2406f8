"""Watchlists as the API takes and gives them."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from ttai.models.base import Output, Strict
from ttai.models.market import Symbol
from ttai.models.text import Identifier, Text
from ttai.models.times import StoredInstant

MAX_SYMBOLS = 500
WatchlistName = Annotated[
    Identifier, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$", examples=["tech"])
]


def _unique(symbols: list[str]) -> list[str]:
    unique = list(dict.fromkeys(symbols))  # first occurrence wins, order kept
    if len(unique) > MAX_SYMBOLS:
        raise ValueError(f"a watchlist holds at most {MAX_SYMBOLS} distinct symbols, got {len(unique)}")
    return unique


class WatchlistIn(Strict):
    description: Annotated[Text, Field(max_length=2000)] | None = None
    symbols: Annotated[list[Symbol], Field(max_length=2 * MAX_SYMBOLS), AfterValidator(_unique)]


class Watchlist(Output):
    name: str
    description: str | None
    symbols: list[str]
    created_at: StoredInstant
    updated_at: StoredInstant

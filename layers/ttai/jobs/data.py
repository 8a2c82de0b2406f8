"""The stored data the jobs read: who watches what, daily closes, cached option chains, who wants which summary."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from ttai.bindings.d1 import D1Database
from ttai.bindings.queues import (
    MESSAGE_METADATA_BYTES,
    SEND_BATCH_MAX_BYTES,
    SEND_BATCH_MAX_MESSAGES,
    body_size,
    cut_batches,
)
from ttai.errors import NotFound

if TYPE_CHECKING:  # the jobs that read no chain do not load the market models
    from ttai.models.market import OptionChain
    from ttai.services.cache import CacheService

T = TypeVar("T")
_OCC = re.compile(r"[A-Z0-9]{1,6} *\d{6}[CP]\d{8}")
# Symbols per bars query: 50 symbols x 100 bars stays far below the Data API's 1 MiB response.
BARS_SYMBOLS_PER_QUERY = 50

_WATCHERS = """
SELECT s.symbol, jsonb_agg(DISTINCT w.user_id ORDER BY w.user_id) AS watchers
FROM watchlists w CROSS JOIN LATERAL jsonb_array_elements_text(w.symbols) AS s(symbol)
GROUP BY s.symbol ORDER BY s.symbol
"""
_CLOSES = """
SELECT symbol, date, close, source FROM (
    SELECT symbol, date, close, source, row_number() OVER (PARTITION BY symbol ORDER BY date DESC) AS age
    FROM bars
    WHERE symbol IN (SELECT jsonb_array_elements_text(?1::jsonb)) AND date <= ?2
) recent
WHERE age <= ?3
ORDER BY symbol, date
"""
_SUBSCRIBERS = """
SELECT p.user_id, p.notification_channels FROM user_preferences p
WHERE CASE ?1 WHEN 'morning_alert' THEN p.morning_alert WHEN 'eod_summary' THEN p.eod_summary END
  AND jsonb_array_length(p.notification_channels) > 0
ORDER BY p.user_id
"""


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def is_option(symbol: str) -> bool:
    """Whether ``symbol`` is an OCC option symbol (a watchlist may hold them; daily bars are for underlyings)."""
    return _OCC.fullmatch(symbol) is not None


def watchers_by_symbol(db: D1Database) -> dict[str, list[str]]:
    """Every symbol in any watchlist, with the users watching it."""
    return {row["symbol"]: list(_json(row["watchers"])) for row in db.prepare(_WATCHERS).all().results}


@dataclass(frozen=True, slots=True)
class Close:
    date: date
    close: float
    source: str


def recent_closes(db: D1Database, symbols: Sequence[str], up_to: date, count: int) -> dict[str, list[Close]]:
    """The last ``count`` daily closes of each symbol on or before ``up_to``, oldest first."""
    found: dict[str, list[Close]] = {}
    for chunk in chunks(list(symbols), BARS_SYMBOLS_PER_QUERY):
        rows = db.prepare(_CLOSES).bind(json.dumps(list(chunk)), up_to, count).all().results
        for row in rows:
            if not isinstance(row["date"], date):  # a BC date (stored by hand) as text: older than any close counts
                continue
            found.setdefault(row["symbol"], []).append(Close(row["date"], float(row["close"]), row["source"]))
    return found


class CachedMarket:
    """What a run reads from the market cache: the last prices of the symbols it names up front (one batch read),
    and option chains as it asks for them, each (symbol, expiration) read once; None where nothing is cached."""

    def __init__(self, cache: CacheService, quoted: Iterable[str]) -> None:
        from ttai.services.market import MarketDataService  # noqa: PLC0415 - see the TYPE_CHECKING imports

        self.market = MarketDataService(cache)
        symbols = sorted(set(quoted))
        self._quotes = self.market.quotes(symbols).quotes if symbols else {}
        self._chains: dict[tuple[str, date | None], OptionChain | None] = {}

    def last(self, symbol: str) -> float | None:
        quote = self._quotes.get(symbol)
        return quote.last if quote else None

    def chain(self, symbol: str, expiration: date | None) -> OptionChain | None:
        key = (symbol, expiration)
        if key not in self._chains:
            try:
                self._chains[key] = self.market.chain(symbol, expiration)
            except NotFound:
                self._chains[key] = None
        return self._chains[key]


def rows_by_id(db: D1Database, sql: str, page: int = 1000) -> list[dict[str, Any]]:
    """Every row of ``sql`` (a query taking ``?1`` = the last id seen and ``?2`` = the page size, ordered by id),
    read in keyset pages."""
    # Here, not at import: ttai.cursors builds the API's page model, which the jobs that walk no table never need.
    from ttai.cursors import keyset_rows  # noqa: PLC0415

    def fetch(after: tuple[Any, ...], count: int) -> Sequence[dict[str, Any]]:
        [after_id] = after
        return db.prepare(sql).bind(after_id or 0, count).all().results

    return list(keyset_rows(fetch, ("id",), page))


def subscribers(db: D1Database, preference: str) -> dict[str, list[str]]:
    """Users who turned ``preference`` on (morning_alert / eod_summary), with their notification channels."""
    if preference not in {"morning_alert", "eod_summary"}:
        raise ValueError(f"no such preference {preference!r}")
    rows = db.prepare(_SUBSCRIBERS).bind(preference).all().results
    return {row["user_id"]: list(_json(row["notification_channels"])) for row in rows}


def send_batches(bodies: Sequence[Any]) -> Iterator[list[Any]]:
    """``bodies`` (JSON) cut in order into batches a ``send_batch`` takes: at most 100 messages and 256 KB each."""
    return cut_batches(
        bodies,
        max_items=SEND_BATCH_MAX_MESSAGES,
        max_bytes=SEND_BATCH_MAX_BYTES,
        size=lambda body: body_size(body, "json") + MESSAGE_METADATA_BYTES,
    )

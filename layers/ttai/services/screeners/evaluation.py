"""Running a saved screener: its criteria evaluated over cached quotes and the user's latest analyses.

The criteria a screener can be run with (a stored screener may hold anything; running one whose criteria this
service cannot evaluate is refused up front, so a run never silently ignores a condition):

- universe: ``symbols`` (a list), or ``watchlist`` (one of the user's watchlists by name); neither means every
  symbol on any of the user's watchlists (at most 500 symbols either way)
- on the cached quote: ``min_price`` / ``max_price`` (last), ``min_volume``, ``min_change_percent`` /
  ``max_change_percent``; a symbol with no current quote does not match a quote condition
- on the user's latest analysis of the symbol: ``recommendation`` (a list of select / reject / neutral)
- on the cached company information: ``sector`` (one name or a list, any case)
- cash-secured puts, on the symbol's cached option chain (all expirations): at least one put with days to
  expiration (New York date) within ``min_dte`` / ``max_dte``, the size of its delta within ``min_delta`` /
  ``max_delta``, a bid of at least ``min_premium`` and ``min_open_interest``; the best (highest bid) is reported

Not evaluable, so refused: IV rank (``min_iv_rank``), which needs a history of implied volatility nothing caches.
Cost: one Data API statement (universe and latest analyses together) and ceil(n/100) KV round trips for each of
quotes, company information and chains, each read only when a criterion needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, NonNegativeInt, ValidationError

from ttai.bindings.d1 import D1Database
from ttai.bindings.kv import BULK_GET_MAX
from ttai.errors import InvalidField, NotFound
from ttai.models.analyses import Recommendation
from ttai.models.base import Strict
from ttai.models.market import (
    MAX_SYMBOLS_PER_REQUEST,
    CompanyInfo,
    OptionChain,
    OptionContract,
    Price,
    Quote,
    Symbol,
)
from ttai.models.screeners import ScreenerName
from ttai.observability import logger
from ttai.services.cache import CacheKeys
from ttai.services.market import MarketDataService

Percent = Annotated[float, Field(allow_inf_nan=False)]
Dte = Annotated[int, Field(ge=0, le=3650)]
DeltaSize = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Sector = Annotated[str, Field(min_length=1, max_length=100)]
MARKET_ZONE = ZoneInfo("America/New_York")  # days to expiration count New York dates, as the market does


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class ScreenerCriteria(Strict):
    """What a screener run can evaluate; any other key is refused (see the module docstring)."""

    symbols: Annotated[list[Symbol], Field(min_length=1, max_length=MAX_SYMBOLS_PER_REQUEST)] | None = None
    watchlist: ScreenerName | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    min_volume: NonNegativeInt | None = None
    min_change_percent: Percent | None = None
    max_change_percent: Percent | None = None
    recommendation: Annotated[list[Recommendation], Field(min_length=1, max_length=3)] | None = None
    sector: Annotated[list[Sector], Field(min_length=1, max_length=50), BeforeValidator(_one_or_many)] | None = None
    min_dte: Dte | None = None
    max_dte: Dte | None = None
    min_delta: DeltaSize | None = None
    max_delta: DeltaSize | None = None
    min_premium: Price | None = None
    min_open_interest: NonNegativeInt | None = None

    def needs_quote(self) -> bool:
        return any(
            v is not None
            for v in (self.min_price, self.max_price, self.min_volume, self.min_change_percent, self.max_change_percent)
        )

    def needs_company(self) -> bool:
        return self.sector is not None

    def needs_chain(self) -> bool:
        return any(
            v is not None
            for v in (
                self.min_dte,
                self.max_dte,
                self.min_delta,
                self.max_delta,
                self.min_premium,
                self.min_open_interest,
            )
        )

    def put_qualifies(self, put: OptionContract, today: date) -> bool:
        dte = (put.expiration - today).days
        if put.option_type != "put" or dte < 0:
            return False
        if (self.min_dte is not None and dte < self.min_dte) or (self.max_dte is not None and dte > self.max_dte):
            return False
        if self.min_delta is not None or self.max_delta is not None:
            if put.delta is None:
                return False
            size = abs(put.delta)
            if (self.min_delta is not None and size < self.min_delta) or (
                self.max_delta is not None and size > self.max_delta
            ):
                return False
        if self.min_premium is not None and (put.bid is None or put.bid < self.min_premium):
            return False
        return self.min_open_interest is None or (
            put.open_interest is not None and put.open_interest >= self.min_open_interest
        )


def parse_criteria(criteria: Any) -> ScreenerCriteria:
    """The stored criteria as ScreenerCriteria, or InvalidField naming each criterion that cannot be evaluated."""
    try:
        parsed = ScreenerCriteria.model_validate(criteria)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'criteria'}: "
            + ("not a criterion a run can evaluate" if e["type"] == "extra_forbidden" else e["msg"])
            for e in exc.errors(include_url=False)
        )
        raise InvalidField("criteria", f"this screener cannot be run: {problems}") from exc
    if parsed.symbols is not None and parsed.watchlist is not None:
        raise InvalidField("criteria", "this screener cannot be run: give symbols or a watchlist, not both")
    return parsed


# ?1 user, ?2 symbols (JSON array or NULL), ?3 watchlist name (or NULL), ?4 limit. Each symbol of the universe with
# the user's newest analysis of it, if any.
_UNIVERSE = """
WITH universe AS (
    SELECT DISTINCT symbol FROM (
        SELECT jsonb_array_elements_text(?2::jsonb) AS symbol WHERE ?2::jsonb IS NOT NULL
        UNION ALL
        SELECT jsonb_array_elements_text(w.symbols) FROM watchlists w
        WHERE ?2::jsonb IS NULL AND w.user_id = ?1 AND (?3::text IS NULL OR w.name = ?3)
    ) listed
)
SELECT u.symbol, a.recommendation, a.created_at AS analysed_at
FROM universe u
LEFT JOIN LATERAL (
    SELECT recommendation, created_at FROM analyses
    WHERE user_id = ?1 AND symbol = u.symbol
    ORDER BY created_at DESC, id DESC LIMIT 1
) a ON true
ORDER BY u.symbol
LIMIT ?4
"""


@dataclass(frozen=True, slots=True)
class Candidate:
    symbol: str
    quote: Quote | None
    recommendation: str | None
    analysed_at: datetime | None
    company: CompanyInfo | None = None
    chain: OptionChain | None = None

    def puts(self, criteria: ScreenerCriteria, today: date) -> list[OptionContract]:
        """The puts of the cached chain that meet the criteria, best (highest bid) first."""
        if self.chain is None:
            return []
        found = [c for c in self.chain.contracts if criteria.put_qualifies(c, today)]
        return sorted(found, key=lambda c: -(c.bid or 0.0))

    def as_result(self, criteria: ScreenerCriteria, today: date) -> dict[str, Any]:
        quote = self.quote
        result: dict[str, Any] = {
            "symbol": self.symbol,
            "last": quote.last if quote else None,
            "change_percent": quote.change_percent if quote else None,
            "volume": quote.volume if quote else None,
            "recommendation": self.recommendation,
            "analysed_at": self.analysed_at.isoformat() if self.analysed_at else None,
        }
        if criteria.needs_company():
            result["sector"] = self.company.sector if self.company else None
        if criteria.needs_chain():
            puts = self.puts(criteria, today)
            result["puts_matching"] = len(puts)
            if puts:
                best = puts[0]
                result["best_put"] = {
                    "symbol": best.symbol,
                    "strike": best.strike,
                    "expiration": best.expiration.isoformat(),
                    "dte": (best.expiration - today).days,
                    "bid": best.bid,
                    "delta": best.delta,
                    "open_interest": best.open_interest,
                }
        return result


def matches(criteria: ScreenerCriteria, candidate: Candidate, today: date) -> bool:  # noqa: PLR0911
    quote = candidate.quote
    if criteria.needs_quote() and quote is None:
        return False
    if quote is not None:
        if criteria.min_price is not None and quote.last < criteria.min_price:
            return False
        if criteria.max_price is not None and quote.last > criteria.max_price:
            return False
        if criteria.min_volume is not None and (quote.volume is None or quote.volume < criteria.min_volume):
            return False
        change = quote.change_percent
        if criteria.min_change_percent is not None and (change is None or change < criteria.min_change_percent):
            return False
        if criteria.max_change_percent is not None and (change is None or change > criteria.max_change_percent):
            return False
    if criteria.recommendation is not None and candidate.recommendation not in criteria.recommendation:
        return False
    if criteria.sector is not None:
        sector = candidate.company.sector if candidate.company else None
        if sector is None or sector.casefold() not in {s.casefold() for s in criteria.sector}:
            return False
    return not criteria.needs_chain() or bool(candidate.puts(criteria, today))


def _cached(model: type[Any], values: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Cached documents as models, by symbol; one that no longer fits its model counts as not cached."""
    found: dict[str, Any] = {}
    for symbol, value in values:
        if value is None:
            continue
        try:
            found[symbol] = model.model_validate(value)
        except ValidationError as exc:
            logger.warning(
                "cached value no longer fits its model: skipped", extra={"symbol": symbol, "error": str(exc)}
            )
    return found


class ScreenerEvaluator:
    def __init__(self, db: D1Database, market: MarketDataService) -> None:
        self.db = db
        self.market = market

    def candidates(self, user_id: str, criteria: ScreenerCriteria) -> list[Candidate]:
        rows = (
            self.db.prepare(_UNIVERSE)
            .bind(user_id, criteria.symbols, criteria.watchlist, MAX_SYMBOLS_PER_REQUEST)
            .all()
            .results
        )
        symbols = [r["symbol"] for r in rows]
        quotes = self.market.quotes(symbols).quotes if symbols and criteria.needs_quote() else {}
        companies = self._bulk(CompanyInfo, CacheKeys.company, symbols) if criteria.needs_company() else {}
        chains = self._bulk(OptionChain, CacheKeys.chain, symbols) if criteria.needs_chain() else {}
        return [
            Candidate(
                r["symbol"],
                quotes.get(r["symbol"]),
                r["recommendation"],
                r["analysed_at"],
                companies.get(r["symbol"]),
                chains.get(r["symbol"]),
            )
            for r in rows
        ]

    def _bulk(self, model: type[Any], key: Any, symbols: list[str]) -> dict[str, Any]:
        """Cached documents of ``symbols`` in bulk reads of 100 keys (company info, all-expiration chains)."""
        kv = self.market.cache.kv
        values: list[tuple[str, Any]] = []
        for start in range(0, len(symbols), BULK_GET_MAX):
            chunk = symbols[start : start + BULK_GET_MAX]
            found = kv.get([key(s) for s in chunk], "json")
            values += [(s, found[key(s)]) for s in chunk]
        return _cached(model, values)

    def evaluate(self, user_id: str, criteria: ScreenerCriteria) -> list[dict[str, Any]]:
        """The matching symbols, in symbol order, each with the values it was judged on."""
        today = datetime.now(MARKET_ZONE).date()
        return [c.as_result(criteria, today) for c in self.candidates(user_id, criteria) if matches(criteria, c, today)]


_SCREENER_BY_NAME = "SELECT id, criteria FROM screeners WHERE user_id = ?1 AND name = ?2"


def runnable_screener(db: D1Database, user_id: str, name: str) -> int:
    """The id of the user's screener ``name``, checked to be runnable before a run starts: NotFound if they have
    none, InvalidField if its criteria cannot be evaluated (and then nothing starts)."""
    row = db.prepare(_SCREENER_BY_NAME).bind(user_id, name).first()
    if row is None:
        raise NotFound(f"no screener named {name!r}")
    parse_criteria(row["criteria"])
    return int(row["id"])

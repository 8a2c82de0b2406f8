"""Running a saved screener: its criteria evaluated over cached quotes and the user's latest analyses.

The criteria a screener can be run with (a stored screener may hold anything; running one whose criteria this
service cannot evaluate is refused up front, so a run never silently ignores a condition):

- universe: ``symbols`` (a list), or ``watchlist`` (one of the user's watchlists by name); neither means every
  symbol on any of the user's watchlists (at most 500 symbols either way)
- on the cached quote: ``min_price`` / ``max_price`` (last), ``min_volume``, ``min_change_percent`` /
  ``max_change_percent``; a symbol with no current quote does not match a quote condition
- on the user's latest analysis of the symbol: ``recommendation`` (a list of select / reject / neutral)

Cost: one Data API statement (universe and latest analyses together) and ceil(n/100) KV round trips for quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, NonNegativeInt, ValidationError

from ttai.bindings.d1 import D1Database
from ttai.bindings.queues import Queue
from ttai.errors import InvalidField, NotFound
from ttai.messages import ScreenerRunRequested
from ttai.models.analyses import Recommendation
from ttai.models.market import MAX_SYMBOLS_PER_REQUEST, Quote, Strict, Symbol
from ttai.models.screeners import ScreenerName
from ttai.services.market import MarketDataService

Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Percent = Annotated[float, Field(allow_inf_nan=False)]


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

    def needs_quote(self) -> bool:
        return any(
            v is not None
            for v in (self.min_price, self.max_price, self.min_volume, self.min_change_percent, self.max_change_percent)
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

    def as_result(self) -> dict[str, Any]:
        quote = self.quote
        return {
            "symbol": self.symbol,
            "last": quote.last if quote else None,
            "change_percent": quote.change_percent if quote else None,
            "volume": quote.volume if quote else None,
            "recommendation": self.recommendation,
            "analysed_at": self.analysed_at.isoformat() if self.analysed_at else None,
        }


def matches(criteria: ScreenerCriteria, candidate: Candidate) -> bool:  # noqa: PLR0911 - one test per criterion
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
    return criteria.recommendation is None or candidate.recommendation in criteria.recommendation


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
        return [Candidate(r["symbol"], quotes.get(r["symbol"]), r["recommendation"], r["analysed_at"]) for r in rows]

    def evaluate(self, user_id: str, criteria: ScreenerCriteria) -> list[dict[str, Any]]:
        """The matching symbols, in symbol order, each with the values it was judged on."""
        return [c.as_result() for c in self.candidates(user_id, criteria) if matches(criteria, c)]


_SCREENER_BY_NAME = "SELECT id, criteria FROM screeners WHERE user_id = ?1 AND name = ?2"


def request_run(db: D1Database, queue: Queue, user_id: str, name: str) -> ScreenerRunRequested:
    """Enqueue a run of the user's screener ``name`` (NotFound if they have none; InvalidField if its criteria
    cannot be evaluated, and then nothing is sent). ``queue`` is TASK_QUEUE."""
    row = db.prepare(_SCREENER_BY_NAME).bind(user_id, name).first()
    if row is None:
        raise NotFound(f"no screener named {name!r}")
    parse_criteria(row["criteria"])
    task = ScreenerRunRequested(user_id=user_id, screener_id=row["id"])
    queue.send(task.to_wire())
    return task

"""Quotes, option chains and company info: read by users, ingested by services, served from the cache."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ttai.errors import NotFound
from ttai.models.market import CompanyInfo, OptionChain, Quote, QuoteBatch, QuotesResponse
from ttai.observability import logger
from ttai.services.cache import CacheService

M = TypeVar("M", bound=BaseModel)


def _cached(model: type[M], key: str, value: Any) -> M | None:
    """A cached value as ``model``; one written under an older schema counts as a miss instead of a 500."""
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        logger.warning("discarding a cached value that no longer fits its model", extra={"key": key, "error": str(exc)})
        return None


class MarketDataService:
    def __init__(self, cache: CacheService) -> None:
        self.cache = cache

    def quotes(self, symbols: list[str]) -> QuotesResponse:
        found = {s: _cached(Quote, s, v) for s, v in self.cache.get_quotes(symbols).items()}
        return QuotesResponse(
            quotes={s: q for s, q in found.items() if q is not None},
            missing=[s for s, q in found.items() if q is None],
        )

    def quote(self, symbol: str) -> Quote:
        quote = _cached(Quote, symbol, self.cache.get_quote(symbol))
        if quote is None:
            raise NotFound(f"no current quote for {symbol}")
        return quote

    def ingest_quotes(self, batch: QuoteBatch) -> int:
        """Store the newest quote per symbol in the hot tier; returns how many symbols were written."""
        latest: dict[str, Quote] = {}
        for quote in batch.quotes:
            held = latest.get(quote.symbol)
            if held is None or quote.updated_at >= held.updated_at:
                latest[quote.symbol] = quote
        self.cache.set_quotes({s: q.model_dump(mode="json") for s, q in latest.items()})
        return len(latest)

    def chain(self, symbol: str, expiration: date | None) -> OptionChain:
        chain = _cached(
            OptionChain, symbol, self.cache.get_chain(symbol, expiration.isoformat() if expiration else None)
        )
        if chain is None:
            which = f"expiring {expiration.isoformat()}" if expiration else "for all expirations"
            raise NotFound(f"no current option chain for {symbol} {which}")
        return chain

    def ingest_chain(self, chain: OptionChain) -> None:
        expiration = chain.expiration.isoformat() if chain.expiration else None
        self.cache.set_chain(chain.symbol, chain.model_dump(mode="json"), expiration)

    def company(self, symbol: str) -> CompanyInfo:
        info = _cached(CompanyInfo, symbol, self.cache.get_company(symbol))
        if info is None:
            raise NotFound(f"no company information for {symbol}")
        return info

    def ingest_company(self, info: CompanyInfo) -> None:
        self.cache.set_company(info.symbol, info.model_dump(mode="json"))

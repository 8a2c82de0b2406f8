"""Quotes, option chains and company info: read by users, ingested by services, served from the cache."""

from __future__ import annotations

from datetime import date

from ttai.errors import NotFound
from ttai.models.market import CompanyInfo, OptionChain, Quote, QuoteBatch, QuotesResponse
from ttai.services.cache import CacheService


class MarketDataService:
    def __init__(self, cache: CacheService) -> None:
        self.cache = cache

    def quotes(self, symbols: list[str]) -> QuotesResponse:
        found = self.cache.get_quotes(symbols)
        return QuotesResponse(
            quotes={s: Quote.model_validate(v) for s, v in found.items() if v is not None},
            missing=[s for s, v in found.items() if v is None],
        )

    def quote(self, symbol: str) -> Quote:
        value = self.cache.get_quote(symbol)
        if value is None:
            raise NotFound(f"no current quote for {symbol}")
        return Quote.model_validate(value)

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
        value = self.cache.get_chain(symbol, expiration.isoformat() if expiration else None)
        if value is None:
            which = f"expiring {expiration.isoformat()}" if expiration else "for all expirations"
            raise NotFound(f"no current option chain for {symbol} {which}")
        return OptionChain.model_validate(value)

    def ingest_chain(self, chain: OptionChain) -> None:
        expiration = chain.expiration.isoformat() if chain.expiration else None
        self.cache.set_chain(chain.symbol, chain.model_dump(mode="json"), expiration)

    def company(self, symbol: str) -> CompanyInfo:
        value = self.cache.get_company(symbol)
        if value is None:
            raise NotFound(f"no company information for {symbol}")
        return CompanyInfo.model_validate(value)

    def ingest_company(self, info: CompanyInfo) -> None:
        self.cache.set_company(info.symbol, info.model_dump(mode="json"))

"""Quotes, option chains and company info: read by users, ingested by services, served from the cache.

With a ``source`` (TastyTrade, in the api function), a miss is read through: the missing keys are fetched once
across every container (``ttai.services.read_through``), stored in their tier and returned. Without one (jobs,
screeners), a miss is reported as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from ttai.errors import NotFound
from ttai.models.market import CompanyInfo, OptionChain, Quote, QuoteBatch, QuotesResponse
from ttai.observability import logger
from ttai.services.cache import CacheKeys, CacheService
from ttai.services.read_through import ReadThrough

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


class MarketDataSource(Protocol):
    """Where misses are fetched from (``ttai.services.tastytrade.market.TastyTradeMarketData``)."""

    def quotes(self, symbols: Iterable[str]) -> Mapping[str, Quote]: ...

    def chain(self, symbol: str, expiration: date | None) -> OptionChain | None: ...

    def company(self, symbol: str) -> CompanyInfo | None: ...


class QuoteListener(Protocol):
    """Told of every quote batch once it is cached (ttai.realtime.publish.QuoteHandOff); must not raise."""

    def quotes_ingested(self, quotes: Sequence[Quote]) -> None: ...


class MarketDataService:
    def __init__(
        self, cache: CacheService, source: MarketDataSource | None = None, *, realtime: QuoteListener | None = None
    ) -> None:
        self.cache = cache
        self.source = source
        self.realtime = realtime
        self._read_through = ReadThrough(cache.kv)

    def quotes(self, symbols: list[str]) -> QuotesResponse:
        """Cached quotes (one BatchGetItem per 100), the missing ones read through in one request per 100."""
        found = {s: _cached(Quote, s, v) for s, v in self.cache.get_quotes(symbols).items()}
        missing = [s for s, q in found.items() if q is None]
        if missing and self.source is not None:
            loaded = self._read_through.load(missing, CacheKeys.quote, self._fetch_quotes)
            found |= {s: _cached(Quote, s, v) for s, v in loaded.items()}
        return QuotesResponse(
            quotes={s: q for s, q in found.items() if q is not None},
            missing=[s for s, q in found.items() if q is None],
        )

    def quote(self, symbol: str) -> Quote:
        quote = _cached(Quote, symbol, self.cache.get_quote(symbol))
        if quote is None and self.source is not None:
            loaded = self._read_through.load([symbol], CacheKeys.quote, self._fetch_quotes)
            quote = _cached(Quote, symbol, loaded.get(symbol))
        if quote is None:
            raise NotFound(f"no current quote for {symbol}")
        return quote

    def _fetch_quotes(self, symbols: list[str]) -> dict[str, Any]:
        assert self.source is not None
        fetched = {s: q.model_dump(mode="json") for s, q in self.source.quotes(symbols).items()}
        if fetched:
            self.cache.set_quotes(fetched)
        return fetched

    def ingest_quotes(self, batch: QuoteBatch) -> int:
        """Store the newest quote per symbol in the hot tier; returns how many symbols were written."""
        latest: dict[str, Quote] = {}
        for quote in batch.quotes:
            held = latest.get(quote.symbol)
            if held is None or quote.updated_at >= held.updated_at:
                latest[quote.symbol] = quote
        self.cache.set_quotes({s: q.model_dump(mode="json") for s, q in latest.items()})
        if self.realtime is not None:
            self.realtime.quotes_ingested(list(latest.values()))
        return len(latest)

    def chain(self, symbol: str, expiration: date | None) -> OptionChain:
        day = expiration.isoformat() if expiration else None
        chain = _cached(OptionChain, symbol, self.cache.get_chain(symbol, day))
        if chain is None and self.source is not None:
            source = self.source

            def fetch(ids: list[str]) -> dict[str, Any]:
                fetched = source.chain(symbol, expiration)
                if fetched is None:
                    return {}
                document = fetched.model_dump(mode="json")
                self.cache.set_chain(symbol, document, day)
                return {symbol: document}

            loaded = self._read_through.load([symbol], lambda s: CacheKeys.chain(s, day), fetch)
            chain = _cached(OptionChain, symbol, loaded.get(symbol))
        if chain is None:
            which = f"expiring {expiration.isoformat()}" if expiration else "for all expirations"
            raise NotFound(f"no current option chain for {symbol} {which}")
        return chain

    def ingest_chain(self, chain: OptionChain) -> None:
        expiration = chain.expiration.isoformat() if chain.expiration else None
        self.cache.set_chain(chain.symbol, chain.model_dump(mode="json"), expiration)

    def company(self, symbol: str) -> CompanyInfo:
        info = _cached(CompanyInfo, symbol, self.cache.get_company(symbol))
        if info is None and self.source is not None:
            source = self.source

            def fetch(ids: list[str]) -> dict[str, Any]:
                fetched = source.company(symbol)
                if fetched is None:
                    return {}
                document = fetched.model_dump(mode="json")
                self.cache.set_company(symbol, document)
                return {symbol: document}

            loaded = self._read_through.load([symbol], CacheKeys.company, fetch)
            info = _cached(CompanyInfo, symbol, loaded.get(symbol))
        if info is None:
            raise NotFound(f"no company information for {symbol}")
        return info

    def ingest_company(self, info: CompanyInfo) -> None:
        self.cache.set_company(info.symbol, info.model_dump(mode="json"))

"""Market data from TastyTrade in our models: what the cache fetches on a miss.

A chain of one expiration comes priced (its contracts' market data, with the underlying's, in one by-type request
per 100 symbols). A chain of every expiration comes with its contracts and the underlying's price only: pricing
thousands of contracts would take dozens of requests per miss; ask for an expiration to get prices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

from ttai.models.market import CompanyInfo, OptionChain, Quote
from ttai.services.tastytrade import convert
from ttai.services.tastytrade.client import TastyTradeClient
from ttai.services.tastytrade.errors import TastyTradeNotFound
from ttai.services.tastytrade.symbols import upstream


class TastyTradeMarketData:
    def __init__(self, client: TastyTradeClient, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self._now = now

    def quotes(self, symbols: Iterable[str]) -> dict[str, Quote]:
        """Quotes by symbol, in ceil(n/100) requests; symbols TastyTrade does not know, or without a price, absent."""
        now = self._now()
        found = {}
        for symbol, item in self.client.market_data(symbols).items():
            quote = convert.quote_from(item, symbol, now=now)
            if quote is not None:
                found[symbol] = quote
        return found

    def chain(self, symbol: str, expiration: date | None) -> OptionChain | None:
        """The option chain of ``symbol`` (one expiration, or all), or None when TastyTrade lists none."""
        try:
            nested = self.client.nested_option_chains(upstream(symbol).symbol)
        except TastyTradeNotFound:
            return None
        contracts = convert.chain_contracts(nested, expiration)
        if not contracts:
            return None
        priced = [c.symbol for c in contracts] if expiration is not None else []
        market = self.client.market_data([symbol, *priced])
        underlying = market.pop(symbol, None)
        quote = convert.quote_from(underlying, symbol, now=self._now()) if underlying is not None else None
        by_contract = {item.symbol: item for item in market.values()}
        return convert.chain_from(
            symbol,
            expiration,
            contracts,
            by_contract,
            underlying_price=quote.last if quote is not None else None,
            now=self._now(),
        )

    def company(self, symbol: str) -> CompanyInfo | None:
        try:
            equity = self.client.equity(upstream(symbol).symbol)
        except TastyTradeNotFound:
            return None
        return convert.company_from(equity, symbol, now=self._now())

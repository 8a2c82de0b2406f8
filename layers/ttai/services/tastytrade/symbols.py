"""Our symbols as TastyTrade's market data asks for them: each under its instrument-type parameter of
GET /market-data/by-type, and the answers mapped back to the symbol the caller used.

Our API writes an index with a leading ``$`` or ``^`` ($SPX); TastyTrade names it SPX under ``index``. A leading ``/``
is a future, an OCC symbol an equity option (TastyTrade uses the OCC form, root padded to six), a pair quoted in USD
a cryptocurrency (BTC/USD, where BRK/B stays an equity), anything else an equity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

# The by-type parameters, in the order a request lists them.
EQUITY, INDEX, EQUITY_OPTION, FUTURE, CRYPTOCURRENCY = "equity", "index", "equity-option", "future", "cryptocurrency"
PARAMETERS = (EQUITY, INDEX, EQUITY_OPTION, FUTURE, CRYPTOCURRENCY)
# What TastyTrade documents for GET /market-data/by-type: up to 100 symbols across every parameter of one request.
MAX_SYMBOLS_PER_REQUEST = 100

_OCC = re.compile(r"(?P<root>[A-Z0-9]{1,6}) *(?P<date>[0-9]{6})(?P<right>[CP])(?P<strike>[0-9]{8})")
_CRYPTO = re.compile(r"[A-Z0-9]{2,10}/USD")


@dataclass(frozen=True, slots=True)
class UpstreamSymbol:
    parameter: str  # the by-type query parameter
    symbol: str  # as TastyTrade names it


def upstream(symbol: str) -> UpstreamSymbol:
    """Where a normalised symbol of ours goes in a by-type request."""
    if symbol[0] in "$^":
        return UpstreamSymbol(INDEX, symbol[1:])
    if symbol.startswith("/"):
        return UpstreamSymbol(FUTURE, symbol)
    if _OCC.fullmatch(symbol):
        return UpstreamSymbol(EQUITY_OPTION, symbol)
    if _CRYPTO.fullmatch(symbol):
        return UpstreamSymbol(CRYPTOCURRENCY, symbol)
    return UpstreamSymbol(EQUITY, symbol)


@dataclass
class ByTypeRequest:
    """One GET /market-data/by-type: at most 100 symbols, grouped by parameter, and who asked for each."""

    symbols: dict[str, list[str]] = field(default_factory=dict)  # parameter -> TastyTrade symbols
    asked_as: dict[str, list[str]] = field(default_factory=dict)  # TastyTrade symbol -> our symbols
    size: int = 0

    def add(self, ours: str) -> None:
        target = upstream(ours)
        callers = self.asked_as.setdefault(target.symbol, [])
        if not callers:  # $SPX and ^SPX are one upstream symbol
            self.symbols.setdefault(target.parameter, []).append(target.symbol)
            self.size += 1
        if ours not in callers:
            callers.append(ours)

    def query(self) -> dict[str, str]:
        return {p: ",".join(self.symbols[p]) for p in PARAMETERS if p in self.symbols}


def by_type_requests(symbols: Iterable[str]) -> list[ByTypeRequest]:
    """The fewest requests that ask for every symbol: ceil(distinct upstream symbols / 100)."""
    requests: list[ByTypeRequest] = []
    placed: dict[str, ByTypeRequest] = {}  # TastyTrade symbol -> the request that asks for it
    for symbol in dict.fromkeys(symbols):
        target = upstream(symbol).symbol
        request = placed.get(target)
        if request is None:
            if not requests or requests[-1].size >= MAX_SYMBOLS_PER_REQUEST:
                requests.append(ByTypeRequest())
            request = placed[target] = requests[-1]
        request.add(symbol)
    return requests


@dataclass(frozen=True, slots=True)
class OccOption:
    root: str
    expiration: date
    option_type: str  # call or put
    strike: Decimal


def parse_occ(symbol: str) -> OccOption | None:
    """The parts of an OCC option symbol (root, YYMMDD, C/P, strike x 1000 in 8 digits), or None."""
    match = _OCC.fullmatch(symbol.strip())
    if match is None:
        return None
    digits = match["date"]
    try:
        expiration = date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
    except ValueError:
        return None
    return OccOption(
        root=match["root"],
        expiration=expiration,
        option_type="call" if match["right"] == "C" else "put",
        strike=Decimal(match["strike"]) / 1000,
    )

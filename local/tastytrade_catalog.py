"""What the stand-in TastyTrade knows, as TastyTrade documents it: a few equities and ETFs, two indices, option chains
on SPY and AAPL, customers with accounts and positions. Documents are built in TastyTrade's shapes (dasherized keys,
decimals as strings, OCC option symbols); prices are deterministic per symbol so tests can predict them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

DEFAULT_CUSTOMER = "5WT00001"


@dataclass(frozen=True)
class Listing:
    symbol: str
    price: Decimal
    description: str
    market: str = "XNAS"
    etf: bool = False
    index: bool = False


LISTINGS = (
    Listing("AAPL", Decimal("190.50"), "APPLE INC"),
    Listing("MSFT", Decimal("415.20"), "MICROSOFT CORP"),
    Listing("TSLA", Decimal("242.10"), "TESLA INC"),
    Listing("SPY", Decimal("585.30"), "SPDR S&P 500 ETF TRUST", market="ARCX", etf=True),
    Listing("SPX", Decimal("5853.00"), "S & P 500 INDEX", market="OTC", index=True),
    Listing("VIX", Decimal("15.80"), "CBOE MARKET VOLATILITY INDEX", market="OTC", index=True),
)
OPTIONABLE = {"SPY": Decimal(5), "AAPL": Decimal("2.5")}  # underlying -> strike step
STRIKES_EACH_SIDE = 4


def _unit(symbol: str, salt: str) -> float:
    """A stable number in [0, 1) for a symbol: deterministic sizes and volumes."""
    digest = hashlib.sha256(f"{salt}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _money(value: float | Decimal) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def occ_symbol(root: str, expiration: date, right: str, strike: Decimal) -> str:
    return f"{root:<6}{expiration:%y%m%d}{right}{int(strike * 1000):08d}"


def streamer_symbol(root: str, expiration: date, right: str, strike: Decimal) -> str:
    number = f"{strike.normalize():f}"
    return f".{root}{expiration:%y%m%d}{right}{number}"


def _fridays(today: date, count: int) -> list[date]:
    first = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    return [first + timedelta(weeks=n) for n in range(count)]


@dataclass(frozen=True)
class ListedOption:
    symbol: str  # OCC
    underlying: str
    expiration: date
    right: str  # C or P
    strike: Decimal


@dataclass
class Catalog:
    """Instruments and what they trade at; ``today`` fixes the option expirations (the next three Fridays)."""

    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    listings: dict[str, Listing] = field(default_factory=lambda: {x.symbol: x for x in LISTINGS})

    def __post_init__(self) -> None:
        self.options: dict[str, ListedOption] = {}
        for underlying, step in OPTIONABLE.items():
            price = self.listings[underlying].price
            center = (price / step).to_integral_value() * step
            for expiration in _fridays(self.today, 3):
                for n in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1):
                    strike = center + step * n
                    for right in "CP":
                        symbol = occ_symbol(underlying, expiration, right, strike)
                        self.options[symbol] = ListedOption(symbol, underlying, expiration, right, strike)

    def list_equity(self, symbol: str, price: Decimal, description: str | None = None) -> None:
        """One more equity (tests that need many symbols)."""
        self.listings[symbol] = Listing(symbol, price, description or f"{symbol} HOLDINGS INC")

    # ------------------------------------------------------------ market data

    def market_data(self, parameter: str, symbol: str, now: datetime) -> dict[str, Any] | None:
        """The by-type item of ``symbol`` under ``parameter``, or None (TastyTrade leaves unknown symbols out)."""
        if parameter == "equity-option":
            option = self.options.get(symbol)
            return None if option is None else self._option_quote(option, now)
        listing = self.listings.get(symbol)
        if listing is None or (parameter == "index") != listing.index or parameter not in ("equity", "index"):
            return None
        return self._quote(symbol, "Index" if listing.index else "Equity", listing.price, now)

    def _quote(
        self, symbol: str, kind: str, mark: Decimal, now: datetime, *, volume: int | None = None
    ) -> dict[str, Any]:
        spread = max(Decimal("0.01"), (mark * Decimal("0.0004")).quantize(Decimal("0.01")))
        previous = mark * Decimal(str(1 - (_unit(symbol, "change") - 0.5) / 25))
        return {
            "symbol": symbol,
            "instrument-type": kind,
            "updated-at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "bid": _money(mark - spread),
            "bid-size": str(int(100 + 900 * _unit(symbol, "bid"))),
            "ask": _money(mark + spread),
            "ask-size": str(int(100 + 900 * _unit(symbol, "ask"))),
            "mid": _money(mark),
            "mark": _money(mark),
            "last": _money(mark),
            "last-mkt": _money(mark),
            "open": _money(previous),
            "day-high-price": _money(max(mark, previous) * Decimal("1.004")),
            "day-low-price": _money(min(mark, previous) * Decimal("0.996")),
            "close-price-type": "Regular",
            "prev-close": _money(previous),
            "prev-close-price-type": "Regular",
            "summary-date": now.date().isoformat(),
            "prev-close-date": (now.date() - timedelta(days=1)).isoformat(),
            "is-trading-halted": False,
            "halt-start-time": -1,
            "halt-end-time": -1,
            "year-low-price": _money(mark * Decimal("0.72")),
            "year-high-price": _money(mark * Decimal("1.18")),
            "volume": str(volume if volume is not None else int(1_000_000 + 50_000_000 * _unit(symbol, "volume"))),
        }

    def _option_quote(self, option: ListedOption, now: datetime) -> dict[str, Any]:
        spot = float(self.listings[option.underlying].price)
        strike = float(option.strike)
        intrinsic = max(0.0, spot - strike) if option.right == "C" else max(0.0, strike - spot)
        years = max(1, (option.expiration - now.date()).days) / 365
        time_value = spot * 0.2 * math.sqrt(years) * 0.4 * math.exp(-abs(spot - strike) / (spot * 0.05))
        mark = Decimal(str(max(0.01, intrinsic + time_value))).quantize(Decimal("0.01"))
        quote = self._quote(option.symbol, "Equity Option", mark, now, volume=int(5_000 * _unit(option.symbol, "v")))
        quote["open-interest"] = str(int(20_000 * _unit(option.symbol, "oi")))
        return quote

    # ----------------------------------------------------------- instruments

    def equity(self, symbol: str) -> dict[str, Any] | None:
        listing = self.listings.get(symbol)
        if listing is None:
            return None
        return {
            "id": 700 + int(1_000_000 * _unit(symbol, "id")),
            "symbol": symbol,
            "instrument-type": "Equity",
            "short-description": listing.description,
            "is-index": listing.index,
            "listed-market": listing.market,
            "description": listing.description,
            "lendability": "Locate Required" if listing.index else "Easy To Borrow",
            "borrow-rate": "0.0",
            "market-time-instrument-collection": "Equity Index" if listing.index else "Equity",
            "is-closing-only": False,
            "is-options-closing-only": False,
            "active": not listing.index,
            "is-fractional-quantity-eligible": not listing.index,
            "is-illiquid": False,
            "is-etf": listing.etf,
            "streamer-symbol": symbol,
            "tick-sizes": [{"value": "0.0001", "threshold": "1.0"}, {"value": "0.01"}],
            "option-tick-sizes": [{"value": "0.01", "threshold": "3.0"}, {"value": "0.05"}],
        }

    def nested_chain(self, underlying: str) -> list[dict[str, Any]] | None:
        options = [o for o in self.options.values() if o.underlying == underlying]
        if not options:
            return None
        expirations = []
        for expiration in sorted({o.expiration for o in options}):
            strikes = sorted({o.strike for o in options if o.expiration == expiration})
            expirations.append(
                {
                    "expiration-type": "Regular" if 15 <= expiration.day <= 21 else "Weekly",
                    "expiration-date": expiration.isoformat(),
                    "days-to-expiration": (expiration - self.today).days,
                    "settlement-type": "PM",
                    "strikes": [
                        {
                            "strike-price": f"{strike:.1f}",
                            "call": occ_symbol(underlying, expiration, "C", strike),
                            "call-streamer-symbol": streamer_symbol(underlying, expiration, "C", strike),
                            "put": occ_symbol(underlying, expiration, "P", strike),
                            "put-streamer-symbol": streamer_symbol(underlying, expiration, "P", strike),
                        }
                        for strike in strikes
                    ],
                }
            )
        return [
            {
                "underlying-symbol": underlying,
                "root-symbol": underlying,
                "option-chain-type": "Standard",
                "shares-per-contract": 100,
                "tick-sizes": [{"value": "0.01", "threshold": "3.0"}, {"value": "0.05"}],
                "deliverables": [
                    {
                        "id": 1,
                        "root-symbol": underlying,
                        "deliverable-type": "Shares",
                        "description": f"100 shares of {underlying}",
                        "amount": "100.0",
                        "symbol": underlying,
                        "instrument-type": "Equity",
                        "percent": "100",
                    }
                ],
                "expirations": expirations,
            }
        ]

    def option_instruments(self, underlying: str) -> list[dict[str, Any]] | None:
        options = sorted(
            (o for o in self.options.values() if o.underlying == underlying), key=lambda o: (o.expiration, o.strike)
        )
        if not options:
            return None
        return [
            {
                "symbol": o.symbol,
                "instrument-type": "Equity Option",
                "active": True,
                "strike-price": f"{o.strike:.1f}",
                "root-symbol": underlying,
                "underlying-symbol": underlying,
                "expiration-date": o.expiration.isoformat(),
                "exercise-style": "American",
                "shares-per-contract": 100,
                "option-type": o.right,
                "option-chain-type": "Standard",
                "expiration-type": "Regular" if 15 <= o.expiration.day <= 21 else "Weekly",
                "settlement-type": "PM",
                "stops-trading-at": f"{o.expiration.isoformat()}T20:15:00.000+00:00",
                "market-time-instrument-collection": "Equity Option",
                "days-to-expiration": (o.expiration - self.today).days,
                "expires-at": f"{o.expiration.isoformat()}T20:15:00.000+00:00",
                "is-closing-only": False,
                "streamer-symbol": streamer_symbol(underlying, o.expiration, o.right, o.strike),
            }
            for o in options
        ]


# ---------------------------------------------------------------- accounts


def account_document(
    number: str, *, nickname: str, type_name: str = "Individual", margin: bool = True
) -> dict[str, Any]:
    return {
        "account-number": number,
        "external-id": f"A{number}",
        "opened-at": "2023-03-01T14:30:00.000+00:00",
        "nickname": nickname,
        "account-type-name": type_name,
        "day-trader-status": False,
        "is-closed": False,
        "is-firm-error": False,
        "is-firm-proprietary": False,
        "is-futures-approved": margin,
        "is-test-drive": False,
        "margin-or-cash": "Margin" if margin else "Cash",
        "is-foreign": False,
        "funding-date": "2023-03-02",
        "investment-objective": "SPECULATION",
        "suitable-options-level": "No Restrictions",
        "created-at": "2023-03-01T14:30:00.000+00:00",
    }


def position_document(
    account: str,
    symbol: str,
    quantity: int | str,
    *,
    direction: str = "Long",
    average_open_price: str = "100.0",
    instrument_type: str | None = None,
    created_at: str = "2024-08-22T17:56:51.872+00:00",
) -> dict[str, Any]:
    """A position as GET /accounts/{account_number}/positions lists it (an OCC symbol is an equity option)."""
    option = len(symbol) == 21 and symbol[6:12].isdigit()
    kind = instrument_type or ("Equity Option" if option else "Equity")
    underlying = symbol[:6].strip() if option else symbol
    document: dict[str, Any] = {
        "account-number": account,
        "symbol": symbol,
        "instrument-type": kind,
        "underlying-symbol": underlying,
        "quantity": str(quantity),
        "quantity-direction": direction if Decimal(str(quantity)) != 0 else "Zero",
        "close-price": average_open_price,
        "average-open-price": average_open_price,
        "average-yearly-market-close-price": average_open_price,
        "average-daily-market-close-price": average_open_price,
        "multiplier": 100 if option else 1,
        "cost-effect": "Debit" if direction == "Long" else "Credit",
        "is-suppressed": False,
        "is-frozen": False,
        "restricted-quantity": "0.0",
        "realized-day-gain": "0.0",
        "realized-day-gain-effect": "None",
        "realized-day-gain-date": "2024-11-01",
        "realized-today": "0.0",
        "realized-today-effect": "None",
        "realized-today-date": "2024-11-01",
        "created-at": created_at,
        "updated-at": "2024-11-01T21:49:54.095+00:00",
    }
    if option:
        document["expires-at"] = f"20{symbol[6:8]}-{symbol[8:10]}-{symbol[10:12]}T20:15:00.000+00:00"
    return document


@dataclass
class Customer:
    email: str
    name: str
    accounts: list[dict[str, Any]] = field(default_factory=list)


def default_customers(catalog: Catalog) -> tuple[dict[str, Customer], dict[str, list[dict[str, Any]]]]:
    """The demo trader: a margin account with stock and a short put, an IRA with more of the same stock (and a
    position closed today, quantity 0), as TastyTrade would list them."""
    put = next(o for o in catalog.options.values() if o.underlying == "SPY" and o.right == "P")
    customers = {
        DEFAULT_CUSTOMER: Customer(
            "trader@example.com",
            "Demo Trader",
            [
                account_document(DEFAULT_CUSTOMER, nickname="Individual"),
                account_document("5WT00002", nickname="Roth IRA", type_name="Roth IRA", margin=False),
            ],
        )
    }
    positions = {
        DEFAULT_CUSTOMER: [
            position_document(DEFAULT_CUSTOMER, "AAPL", 100, average_open_price="172.35"),
            position_document(DEFAULT_CUSTOMER, put.symbol, 2, direction="Short", average_open_price="3.1"),
            position_document(DEFAULT_CUSTOMER, "/ESZ5", 1, instrument_type="Future", average_open_price="5890.25"),
        ],
        "5WT00002": [
            position_document("5WT00002", "AAPL", 20, average_open_price="181.1"),
            position_document("5WT00002", "MSFT", 0, average_open_price="402.0"),
        ],
    }
    return customers, positions

"""Demo data for ``make dev``: a few symbols' daily bars, generated, stored with source 'demo' so that every
analysis made from them says DEMO DATA; and a watchlist named "demo" for the dev user that watches them.

The bars are a seeded random walk (the same every run for a given end date), not market data.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ttai.bindings.d1 import D1Database
from ttai.models.bars import BarBatch, BarIn
from ttai.services.bars import BarRepository

DEMO_SOURCE = "demo"
DEMO_WATCHLIST = "demo"
# symbol: (starting price, daily drift, daily volatility): one rising, one falling, one flat-ish, one wild.
DEMO_SYMBOLS: dict[str, tuple[float, float, float]] = {
    "AAPL": (180.0, 0.0015, 0.012),
    "MSFT": (410.0, -0.0012, 0.010),
    "SPY": (520.0, 0.0002, 0.008),
    "TSLA": (240.0, 0.0005, 0.035),
}
DEMO_DAYS = 120


def _cents(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def demo_bars(end: date, days: int = DEMO_DAYS) -> BarBatch:
    """``days`` weekdays of bars per demo symbol, the last on or before ``end``."""
    weekdays: list[date] = []
    day = end
    while len(weekdays) < days:
        if day.weekday() < 5:
            weekdays.append(day)
        day -= timedelta(days=1)
    weekdays.reverse()
    bars: list[BarIn] = []
    for symbol, (start, drift, sigma) in DEMO_SYMBOLS.items():
        walk = random.Random(f"ttai-demo-{symbol}")  # noqa: S311 - demo prices, not secrets
        close = start
        for day in weekdays:
            open_ = close * (1 + walk.gauss(0, sigma / 3))
            close = max(1.0, close * (1 + drift + walk.gauss(0, sigma)))
            high = max(open_, close) * (1 + abs(walk.gauss(0, sigma / 2)))
            low = min(open_, close) * (1 - abs(walk.gauss(0, sigma / 2)))
            o, c = _cents(open_), _cents(close)
            bars.append(
                BarIn(
                    symbol=symbol,
                    date=day,
                    open=o,
                    high=max(_cents(high), o, c),  # rounding to cents must not put open or close outside the range
                    low=min(_cents(low), o, c),
                    close=c,
                    volume=walk.randint(1_000_000, 50_000_000),
                )
            )
    return BarBatch(bars=bars, source=DEMO_SOURCE)


def load_demo(db: D1Database, user_id: str) -> int:
    """Store the demo bars up to yesterday (never over real bars) and the user's "demo" watchlist; returns the
    number of bars offered."""
    yesterday = datetime.fromtimestamp(time.time(), UTC).date() - timedelta(days=1)
    batch = demo_bars(yesterday)
    BarRepository(db).upsert(batch, replace=False)
    db.prepare(
        "INSERT INTO watchlists (user_id, name, description, symbols) VALUES (?, ?, ?, ?::jsonb) "
        "ON CONFLICT (user_id, name) DO NOTHING"
    ).bind(
        user_id, DEMO_WATCHLIST, "DEMO DATA: generated bars, not market prices", json.dumps(list(DEMO_SYMBOLS))
    ).run()
    return len(batch.bars)

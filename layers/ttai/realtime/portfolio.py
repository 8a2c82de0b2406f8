"""The portfolio monitor (seed 002's PortfolioMonitor): one object per user that, while NYSE is open, marks the
user's open positions to the cached quotes and chains every minute and pushes ``{"type": "portfolio", "positions",
"market_value", "unrealized_pnl", "as_of"}`` on ``user:{id}``.

It runs on its alarm: ``start()`` (called when the user subscribes to their channel) arms it for now if the market is
open; each run pushes and arms the next whole minute. Outside market hours (before 09:30 or from 16:00 New York
time, weekends, NYSE holidays: the jobs' calendar) it sets no alarm, and it stops too when nobody received the push;
the next subscribe starts it again. Early closes (13:00 on a few days) are not in the calendar, so those afternoons
are marked against quotes that no longer move.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any

from ttai.bindings.durable import AlarmInfo, DurableObject
from ttai.errors import NotFound
from ttai.models.market import OptionChain
from ttai.realtime.channels import user_channel
from ttai.services.cache import CacheService
from ttai.services.market import MarketDataService
from ttai.services.marks import mark_position, option_price

OPEN = clock_time(9, 30)
CLOSE = clock_time(16, 0)
USER = "user"  # storage: whose portfolio (alarms carry the object's id, not its name)
_OPEN_POSITIONS = """
SELECT id, user_id, symbol, quantity, direction, average_cost, position_type, option_type, strike, expiration
FROM positions WHERE user_id = ?1 AND status = 'open' ORDER BY id
"""


def market_open(moment: datetime) -> bool:
    """Whether NYSE's regular session is on at ``moment`` (aware): a trading day, 09:30 <= New York time < 16:00."""
    from ttai.jobs.calendar import NEW_YORK, closed_reason  # noqa: PLC0415 - the jobs package is heavy to import

    local = moment.astimezone(NEW_YORK)
    return OPEN <= local.time() < CLOSE and closed_reason(local.date()) is None


def next_minute_ms(now_ms: int) -> int:
    """The next whole minute after ``now_ms`` (ms since the epoch)."""
    return (math.floor(now_ms / 60_000) + 1) * 60_000


def portfolio(env: Any, user_id: str, as_of: datetime) -> dict[str, Any]:
    """The user's open positions marked to the cache: one statement, one BatchGetItem per 100 stocks, one read per
    option chain. A position with no cached price is listed with ``mark`` None and left out of the totals."""
    positions = env.DB.prepare(_OPEN_POSITIONS).bind(user_id).all().results
    market = MarketDataService(CacheService(env.KV))
    stocks = sorted({p["symbol"] for p in positions if p["position_type"] == "stock"})
    quotes = market.quotes(stocks).quotes if stocks else {}
    chains: dict[tuple[str, Any], OptionChain | None] = {}
    listed = []
    market_value = unrealized = 0.0
    for position in positions:
        price: float | None = None
        if position["position_type"] == "stock":
            quote = quotes.get(position["symbol"])
            price = quote.last if quote else None
        elif position["expiration"] is not None and not isinstance(position["expiration"], str):
            key = (position["symbol"], position["expiration"])
            if key not in chains:
                try:
                    chains[key] = market.chain(*key)
                except NotFound:
                    chains[key] = None
            price = option_price(chains[key], position)
        entry = {
            "id": int(position["id"]),
            "symbol": position["symbol"],
            "quantity": int(position["quantity"]),
            "direction": position["direction"],
            "position_type": position["position_type"],
            "mark": None,
            "market_value": None,
            "unrealized_pnl": None,
        }
        if price is not None:
            mark = mark_position(position, price)
            entry |= {"mark": mark.mark, "market_value": mark.market_value, "unrealized_pnl": mark.unrealized_pnl}
            market_value += mark.market_value
            unrealized += mark.unrealized_pnl
        listed.append(entry)
    return {
        "type": "portfolio",
        "positions": listed,
        "market_value": round(market_value, 2),
        "unrealized_pnl": round(unrealized, 2),
        "as_of": as_of.isoformat(),
    }


class PortfolioMonitor(DurableObject):
    """One user's portfolio, marked and pushed every minute of the trading session while someone listens."""

    def start(self) -> int | None:
        """Run now if the market is open (the alarm time in ms), else do nothing (None)."""
        user_id = self.ctx.id.name
        if user_id is None:
            raise ValueError("a portfolio monitor is addressed by its user: PORTFOLIO_MONITOR.get_by_name(user)")
        now_ms = int(time.time() * 1000)
        if not market_open(datetime.fromtimestamp(now_ms / 1000, UTC)):
            return None
        storage = self.ctx.storage
        storage.put(USER, user_id)
        armed: int | None = storage.get_alarm()
        if armed is None:
            storage.set_alarm(now_ms)
            armed = now_ms
        return armed

    def stop(self) -> None:
        self.ctx.storage.delete_alarm()

    def next_run(self) -> int | None:
        """When the monitor runs next (ms since the epoch), or None while it is stopped."""
        return self.ctx.storage.get_alarm()

    def alarm(self, info: AlarmInfo) -> None:
        now = datetime.fromtimestamp(time.time(), UTC)
        user_id = self.ctx.storage.get(USER)
        if not isinstance(user_id, str) or not market_open(now):
            return  # no next alarm: the session is over (or never began); the next subscribe starts it again
        received = self.env.PUBSUB.get_by_name(user_channel(user_id)).publish(portfolio(self.env, user_id, now))
        if received:
            self.ctx.storage.set_alarm(next_minute_ms(int(now.timestamp() * 1000)))

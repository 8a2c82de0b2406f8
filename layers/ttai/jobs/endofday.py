"""The end-of-day job (16:30 New York): open positions marked to market from the cache, and a summary for every
user with eod_summary on.

A stock is marked at its quote's last price; an option at the mid of its contract's bid and ask in the cached chain
(its last price without both), times 100. Unrealized P&L is (mark - average cost) x quantity x multiplier, negated
for a short. positions has no columns for a mark, so nothing is written back: the report holds counts only (one
user's P&L is theirs alone), and each subscriber's figures go only into their own notification. A position with no
cached price is an error of that position.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ttai.jobs.base import JobContext, JobOutcome
from ttai.jobs.data import CachedMarket, rows_by_id, send_all, subscribers
from ttai.jobs.reports import clip, user_notifications
from ttai.models.market import OptionChain

OPTION_MULTIPLIER = 100
PAGE = 1000
_OPEN = """
SELECT id, user_id, symbol, quantity, direction, average_cost, position_type, option_type, strike, expiration
FROM positions WHERE status = 'open' AND id > ?1 ORDER BY id LIMIT ?2
"""


@dataclass(frozen=True, slots=True)
class Mark:
    position_id: int
    user_id: str
    symbol: str
    mark: float
    market_value: float
    unrealized_pnl: float


def open_positions(ctx: JobContext) -> list[dict[str, Any]]:
    return rows_by_id(ctx.db, _OPEN, PAGE)


def mark_position(position: dict[str, Any], price: float) -> Mark:
    multiplier = OPTION_MULTIPLIER if position["position_type"] == "option" else 1
    sign = -1 if position["direction"] == "short" else 1
    quantity = int(position["quantity"])
    cost = float(Decimal(position["average_cost"]))
    return Mark(
        position_id=int(position["id"]),
        user_id=position["user_id"],
        symbol=position["symbol"],
        mark=price,
        market_value=round(sign * price * quantity * multiplier, 2),
        unrealized_pnl=round(sign * (price - cost) * quantity * multiplier, 2),
    )


def _option_price(chain: OptionChain | None, position: dict[str, Any]) -> float | None:
    strike = float(Decimal(position["strike"]))
    for contract in chain.contracts if chain else ():
        if (
            contract.option_type == position["option_type"]
            and contract.expiration == position["expiration"]
            and abs(contract.strike - strike) < 1e-9
        ):
            if contract.bid is not None and contract.ask is not None:
                return round((contract.bid + contract.ask) / 2, 6)
            return contract.last
    return None


def run_end_of_day(ctx: JobContext) -> JobOutcome:
    positions = open_positions(ctx)
    market = CachedMarket(ctx.cache, (p["symbol"] for p in positions if p["position_type"] == "stock"))
    marks: list[Mark] = []
    errors: dict[str, str] = {}
    for position in positions:
        price: float | None
        if position["position_type"] == "stock":
            price = market.last(position["symbol"])
        elif not isinstance(position["expiration"], date):  # stored by hand past Python's dates: no chain has it
            price = None
        else:
            price = _option_price(market.chain(position["symbol"], position["expiration"]), position)
        if price is None:
            errors[f"position {position['id']}"] = f"no cached price for {position['symbol']}"
            continue
        marks.append(mark_position(position, price))

    by_user: dict[str, list[Mark]] = defaultdict(list)
    for mark in marks:
        by_user[mark.user_id].append(mark)
    held: dict[str, int] = defaultdict(int)
    for position in positions:
        held[position["user_id"]] += 1
    title = f"End-of-day summary {ctx.market_date.isoformat()}"
    notifications = []
    for user_id, channels in subscribers(ctx.db, "eod_summary").items():
        mine = by_user.get(user_id, [])
        if not held[user_id]:
            body = "No open positions."
        else:
            lines = [
                f"{m.symbol}: mark {m.mark:.2f}, value {m.market_value:,.2f}, unrealized {m.unrealized_pnl:+,.2f}"
                for m in mine
            ]
            total = sum(m.unrealized_pnl for m in mine)
            unmarked = held[user_id] - len(mine)
            lines.append(
                f"Unrealized P&L {total:+,.2f} over {len(mine)} marked position(s)"
                + (f"; {unmarked} without a price today" if unmarked else "")
            )
            body = clip("\n".join(lines))
        notifications += user_notifications(
            ctx.execution_id, user_id, channels, title, body, {"report": "end-of-day", "execution_id": ctx.execution_id}
        )
    sent = send_all(ctx.env.NOTIFICATION_QUEUE, notifications)

    unpriced = sorted({p["symbol"] for p in positions} - {m.symbol for m in marks})
    summary = f"{len(marks)} of {len(positions)} open positions marked to market for {len(held)} user(s)" + (
        f"; no price for {', '.join(unpriced)}" if unpriced else ""
    )
    ctx.store_report(
        f"End of day {ctx.market_date.isoformat()}",
        summary,
        {
            "market_date": ctx.market_date.isoformat(),
            "positions": len(positions),
            "marked": len(marks),
            "users": len(held),
            "unpriced_symbols": unpriced,
            "summaries_sent": sent,
        },
        ("Open positions", "Marked", "Users", "Without a price"),
        [(len(positions), len(marks), len(held), ", ".join(unpriced))],
    )
    return JobOutcome(
        processed=len(positions),
        successful=len(marks),
        errors=errors,
        metadata={"unit": "positions", "notifications_sent": sent},
    )

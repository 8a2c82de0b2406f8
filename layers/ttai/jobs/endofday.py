"""The end-of-day job (16:30 New York): open positions marked to market from the cache (ttai.services.marks), and a
summary for every user with eod_summary on.

positions has no columns for a mark, so nothing is written back: the report holds counts only (one
user's P&L is theirs alone), and each subscriber's figures go only into their own notification. A position with no
cached price is an error of that position.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from ttai.jobs.base import JobContext, JobOutcome
from ttai.jobs.data import CachedMarket, rows_by_id, subscribers
from ttai.jobs.reports import clip, user_notifications
from ttai.services.marks import Mark, mark_position, option_price

PAGE = 1000
_OPEN = """
SELECT id, user_id, symbol, quantity, direction, average_cost, position_type, option_type, strike, expiration
FROM positions WHERE status = 'open' AND id > ?1 ORDER BY id LIMIT ?2
"""


def open_positions(ctx: JobContext) -> list[dict[str, Any]]:
    return rows_by_id(ctx.db, _OPEN, PAGE)


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
            price = option_price(market.chain(position["symbol"], position["expiration"]), position)
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
    sent = ctx.send("NOTIFICATION_QUEUE", notifications)

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

"""Marking positions to market from the cache: a stock at its quote's last price; an option at the mid of its
contract's bid and ask in the cached chain (its last price without both), times 100. Unrealized P&L is (mark -
average cost) x quantity x multiplier, negated for a short. Used by the end-of-day job and the portfolio monitor."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ttai.models.market import OptionChain

OPTION_MULTIPLIER = 100


@dataclass(frozen=True, slots=True)
class Mark:
    position_id: int
    user_id: str
    symbol: str
    mark: float
    market_value: float
    unrealized_pnl: float


def mark_position(position: dict[str, Any], price: float) -> Mark:
    """``position`` (a positions row) marked at ``price``."""
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


def option_price(chain: OptionChain | None, position: dict[str, Any]) -> float | None:
    """The option position's contract price in ``chain``: the bid/ask mid, else its last, else None."""
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

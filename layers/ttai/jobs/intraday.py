"""The intraday job (hourly, 10:00-16:00 New York): active price, delta and days-to-expiration alerts evaluated
against the cache; each that fires sends alert_triggered on ANALYSIS_QUEUE, where the consumer marks the alert,
records the event and notifies (this job changes no alert).

- price: the cached quote's last price; above fires at last >= threshold, below at last <= threshold.
- delta: an option's delta (signed: puts are negative) from the cached chain of its expiration, or of all
  expirations; same comparisons.
- dte: days from the market date to an option's expiration, read from its OCC symbol; same comparisons.
An alert whose data is not cached is not evaluated this hour (listed in the run's metadata, not an error); a delta
or dte alert on a symbol that is not an option is an error of that alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ttai.jobs.base import JobContext, JobOutcome
from ttai.jobs.data import CachedMarket, rows_by_id
from ttai.jobs.reports import message_id
from ttai.messages import AlertTriggered
from ttai.models.alerts import fires, recordable

PAGE = 1000
EVALUATED_TYPES = ("price", "delta", "dte")
_OCC = re.compile(r"(?P<root>[A-Z0-9]{1,6}) *(?P<date>\d{6})(?P<right>[CP])(?P<strike>\d{8})")
_ACTIVE = """
SELECT id, user_id, symbol, alert_type, condition, threshold FROM alerts
WHERE status = 'active' AND alert_type IN ('price', 'delta', 'dte') AND id > ?1
ORDER BY id LIMIT ?2
"""


class NotAnOption(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Occ:
    root: str
    expiration: date


def parse_occ(symbol: str) -> Occ:
    match = _OCC.fullmatch(symbol)
    if not match:
        raise NotAnOption(f"{symbol} is not an OCC option symbol")
    return Occ(match["root"], datetime.strptime(match["date"], "%y%m%d").date())  # noqa: DTZ007 - a calendar date


def active_alerts(ctx: JobContext) -> list[dict[str, Any]]:
    return rows_by_id(ctx.db, _ACTIVE, PAGE)


def option_delta(market: CachedMarket, symbol: str, occ: Occ) -> float | None:
    """The cached delta of the option ``symbol``: from its expiration's chain, else from the chain of all."""
    for chain in (market.chain(occ.root, occ.expiration), market.chain(occ.root, None)):
        for contract in chain.contracts if chain else ():
            if contract.symbol == symbol and contract.delta is not None:
                return contract.delta
    return None


def run_intraday(ctx: JobContext) -> JobOutcome:
    alerts = active_alerts(ctx)
    market = CachedMarket(ctx.cache, (a["symbol"] for a in alerts if a["alert_type"] == "price"))
    triggered: list[AlertTriggered] = []
    errors: dict[str, str] = {}
    no_data: list[int] = []
    for alert in alerts:
        alert_id, symbol, kind = int(alert["id"]), alert["symbol"], alert["alert_type"]
        threshold = float(Decimal(alert["threshold"]))
        value: float | None
        try:
            if kind == "price":
                value = market.last(symbol)
            elif kind == "delta":
                value = option_delta(market, symbol, parse_occ(symbol))
            else:
                value = float((parse_occ(symbol).expiration - ctx.market_date).days)
        except NotAnOption as exc:
            errors[f"alert {alert_id}"] = f"{kind} alert on {symbol}: {exc}"
            continue
        if value is None:
            no_data.append(alert_id)
            continue
        if not recordable(value):  # its alert event could never be stored: every delivery would fail
            errors[f"alert {alert_id}"] = f"{kind} alert on {symbol}: {value:g} is past what an alert event records"
            continue
        if fires(alert["condition"], value, threshold):
            triggered.append(
                AlertTriggered(
                    id=message_id(ctx.execution_id, "alert", alert_id),
                    user_id=alert["user_id"],
                    alert_id=alert_id,
                    symbol=symbol,
                    condition=f"{kind} {alert['condition']} {threshold:g}",
                    current_value=value,
                )
            )
    sent = ctx.send("ANALYSIS_QUEUE", triggered)
    return JobOutcome(
        processed=len(alerts),
        successful=len(alerts) - len(errors),
        errors=errors,
        metadata={
            "unit": "alerts",
            "triggered": [m.alert_id for m in triggered],
            "not_evaluated_no_data": no_data,
            "messages_sent": sent,
        },
    )

"""Price alerts in real time (seed 002's PriceAlertDO): each ingested quote evaluated against its symbol's active
price alerts within seconds, not at the next hourly intraday run.

``evaluate_quotes`` (the realtime function, for every ingested batch) reads the batch's active price alerts in one
statement (the ``alerts_active_by_symbol`` index) and hands each symbol whose quote crosses one of them to that
symbol's ``PriceAlert`` object (``PRICE_ALERT.get_by_name(symbol)``). The object takes one symbol's quotes one at a
time, drops a quote older than one it already evaluated, and sends ``alert_triggered`` for each crossing it has not
sent yet; the consumer then marks the alert, records its event, notifies and pushes the frame on ``user:{id}``
(consumers/alert_triggered.py), exactly as for the intraday job's crossings.

Why an alert fires once whatever races: the message id is the alert's own (``price-alert:{id}``), so the consumer's
idempotency takes it once however many quotes sent it, and the consumer's UPDATE only moves an alert that is still
active (the guard in SQL), so neither a second message nor the intraday job fires it again. The object remembers
what it sent, so a burst of crossing quotes sends one message, not one per quote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any

from ttai.bindings.d1 import D1Database
from ttai.bindings.durable import DurableObject, DurableObjectError
from ttai.bindings.queues import SEND_BATCH_MAX_MESSAGES, MessageSendRequest
from ttai.messages import AlertTriggered
from ttai.models.alerts import fires, recordable
from ttai.models.market import Quote
from ttai.observability import logger

_ACTIVE_PRICE_ALERTS = """
SELECT id, user_id, symbol, condition, threshold FROM alerts
WHERE status = 'active' AND alert_type = 'price' AND symbol IN (SELECT jsonb_array_elements_text(?1::jsonb))
ORDER BY symbol, id
"""
SENT = "sent"  # storage: ids of the alerts this object has sent alert_triggered for, while they are still active
LAST_QUOTE_AT = "last_quote_at"  # storage: the newest quote time evaluated (ISO 8601)
_PARALLEL_CALLS = 8


def message_id(alert_id: int) -> str:
    """One id per alert: whichever quote, object or retry sends it, the consumer takes it once."""
    return f"price-alert:{alert_id}"


def active_price_alerts(db: D1Database, symbols: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Active price alerts of ``symbols``, by symbol (one statement)."""
    wanted = sorted(set(symbols))
    if not wanted:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for row in db.prepare(_ACTIVE_PRICE_ALERTS).bind(json.dumps(wanted)).all().results:
        found.setdefault(row["symbol"], []).append(
            {
                "id": int(row["id"]),
                "user_id": row["user_id"],
                "condition": row["condition"],
                "threshold": str(Decimal(row["threshold"])),
            }
        )
    return found


def crossed(quote: Quote, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts ``quote`` crosses; none for a price no alert event could record (it would never be stored)."""
    if not recordable(quote.last):
        return []
    return [a for a in alerts if fires(a["condition"], quote.last, float(Decimal(a["threshold"])))]


def evaluate_quotes(env: Any, quotes: Sequence[Quote]) -> dict[str, list[int]]:
    """Hand each quote that crosses an active price alert to its symbol's object; returns the alert ids each
    object sent, by symbol. A quote that crosses nothing costs no object call."""
    alerts = active_price_alerts(env.DB, (q.symbol for q in quotes))
    work = [(q, alerts[q.symbol]) for q in quotes if crossed(q, alerts.get(q.symbol, []))]

    def evaluate(item: tuple[Quote, list[dict[str, Any]]]) -> tuple[str, list[int]]:
        quote, symbol_alerts = item
        try:
            sent = env.PRICE_ALERT.get_by_name(quote.symbol).evaluate(quote.model_dump(mode="json"), symbol_alerts)
        except DurableObjectError as exc:
            # The intraday job catches what real time misses; the next quote tries again.
            logger.warning("price alerts not evaluated", extra={"symbol": quote.symbol, "error": exc.name})
            return quote.symbol, []
        return quote.symbol, list(sent)

    if len(work) <= 1:
        return dict(map(evaluate, work))
    with ThreadPoolExecutor(min(len(work), _PARALLEL_CALLS)) as pool:
        return dict(pool.map(evaluate, work))


class PriceAlert(DurableObject):
    """One symbol's price alerts: its quotes evaluated one at a time, each crossing sent once."""

    def evaluate(self, quote: dict[str, Any], alerts: list[dict[str, Any]]) -> list[int]:
        """Send alert_triggered for each of ``alerts`` (the symbol's active ones) ``quote`` crosses and this object
        has not sent yet; returns their ids. A quote older than one already evaluated changes nothing."""
        current = Quote.model_validate(quote)
        storage = self.ctx.storage
        last = storage.get(LAST_QUOTE_AT)
        observed = current.updated_at.isoformat()
        if last is not None and datetime.fromisoformat(last) > current.updated_at:
            return []
        active = {int(a["id"]) for a in alerts}
        sent = set(storage.get(SENT) or []) & active  # an alert no longer active needs no memory
        messages = [
            AlertTriggered(
                id=message_id(int(a["id"])),
                user_id=a["user_id"],
                alert_id=int(a["id"]),
                symbol=current.symbol,
                condition=f"price {a['condition']} {float(Decimal(a['threshold'])):g}",
                current_value=current.last,
            )
            for a in crossed(current, alerts)
            if int(a["id"]) not in sent
        ]
        for start in range(0, len(messages), SEND_BATCH_MAX_MESSAGES):
            chunk = messages[start : start + SEND_BATCH_MAX_MESSAGES]
            self.env.ANALYSIS_QUEUE.send_batch([MessageSendRequest(m.to_wire()) for m in chunk])
        storage.put({SENT: sorted(sent | {m.alert_id for m in messages}), LAST_QUOTE_AT: observed})
        return [m.alert_id for m in messages]

"""A world of its own for job tests: a migrated database and queues no other test writes to, and helpers to fill
them. Jobs read every watchlist and alert in their database, so sharing the session's would make counts depend on
which other tests ran first."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from local.stack import LocalStack
from ttai.bindings.d1 import D1Database
from ttai.env import Env
from ttai.migrations import apply


@dataclass
class JobWorld:
    stack: LocalStack
    env: Env
    db: D1Database
    queue_urls: dict[str, str]

    def sql(self, statement: str, *values: Any) -> list[dict[str, Any]]:
        return self.db.prepare(statement).bind(*values).all().results

    def user(
        self, name: str, *, morning_alert: bool = False, eod_summary: bool = False, channels: Sequence[str] = ()
    ) -> str:
        user_id = f"{name}-{uuid.uuid4().hex[:6]}"
        self.sql("INSERT INTO users (id) VALUES (?)", user_id)
        self.sql(
            "INSERT INTO user_preferences (user_id, morning_alert, eod_summary, notification_channels) "
            "VALUES (?, ?, ?, ?::jsonb)",
            user_id,
            morning_alert,
            eod_summary,
            json.dumps(list(channels)),
        )
        return user_id

    def watch(self, user_id: str, *symbols: str, name: str = "main") -> None:
        self.sql(
            "INSERT INTO watchlists (user_id, name, symbols) VALUES (?, ?, ?::jsonb) "
            "ON CONFLICT (user_id, name) DO UPDATE SET symbols = EXCLUDED.symbols",
            user_id,
            name,
            json.dumps(list(symbols)),
        )

    def bars(self, symbol: str, closes: Sequence[float], last: date, source: str = "test") -> None:
        """One bar a weekday for each close, the last one on ``last``; open = close, high/low 1% around it."""
        days: list[date] = []
        day = last
        while len(days) < len(closes):
            if day.weekday() < 5:
                days.append(day)
            day -= timedelta(days=1)
        rows = [
            {"symbol": symbol, "date": d.isoformat(), "o": c, "h": round(c * 1.01, 6), "l": round(c * 0.99, 6), "c": c}
            for d, c in zip(reversed(days), closes, strict=True)
        ]
        self.sql(
            "INSERT INTO bars (symbol, date, open, high, low, close, volume, source) "
            "SELECT r.symbol, r.date::date, r.o, r.h, r.l, r.c, 1000, ? "
            "FROM jsonb_to_recordset(?::jsonb) "
            "AS r(symbol text, date text, o numeric, h numeric, l numeric, c numeric)",
            source,
            json.dumps(rows),
        )

    def messages(self, binding: str) -> list[dict[str, Any]]:
        """Every message waiting on the queue (received and deleted), as their JSON bodies."""
        sqs = self.stack.client("sqs")
        url = self.queue_urls[binding]
        bodies: list[dict[str, Any]] = []
        while True:
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not received:
                return bodies
            for message in received:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def new_world(stack: LocalStack) -> JobWorld:
    name = f"jobs_{uuid.uuid4().hex[:10]}"
    db = stack.create_database(name)
    apply(db)
    sqs = stack.client("sqs")
    queue_urls = {
        binding: sqs.create_queue(QueueName=f"{name}-{binding.lower()}")["QueueUrl"]
        for binding in ("TASK_QUEUE", "NOTIFICATION_QUEUE", "ANALYSIS_QUEUE")
    }
    settings = stack.env.settings._replace(db_name=name, queue_urls=queue_urls)
    env = Env(settings)
    return JobWorld(stack=stack, env=env, db=env.DB, queue_urls=queue_urls)


def zigzag(start: float, up: float, down: float, count: int) -> list[float]:
    """Closes that move +up, -down, +up, ... from ``start``: a steady trend with a known RSI."""
    closes = [start]
    for i in range(count - 1):
        closes.append(round(closes[-1] + (up if i % 2 == 0 else -down), 6))
    return closes

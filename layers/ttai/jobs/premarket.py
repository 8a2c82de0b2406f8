"""The pre-market job (09:00 New York): every connected user's positions synced from TastyTrade first
(``ttai.jobs.position_sync``), then the latest analysis of every watched symbol and its high-confidence signals as
a report, and a notification per channel for every user with morning_alert on."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from ttai.jobs.base import JobContext, JobOutcome
from ttai.jobs.data import chunks, is_option, subscribers, watchers_by_symbol
from ttai.jobs.indicators import HIGH_CONFIDENCE
from ttai.jobs.reports import clip, demo_note, user_notifications

# An analysis older than this is not "the latest" any more: the symbol is reported as having none.
MAX_ANALYSIS_AGE = timedelta(days=7)
SYMBOLS_PER_QUERY = 100  # rows carry signals and reasoning: keep each response far below the Data API's 1 MiB
_LATEST = """
SELECT DISTINCT ON (r.symbol) r.symbol, r.sentiment, r.confidence, r.direction, r.signals, r.reasoning,
       r.execution_id, e.execution_date, coalesce((r.technical_data ->> 'demo_data')::boolean, false) AS demo
FROM analysis_results r JOIN job_executions e ON e.id = r.execution_id
WHERE r.symbol IN (SELECT jsonb_array_elements_text(?1::jsonb))
  AND r.error_message IS NULL AND e.scheduled_time <= ?2 AND e.execution_date >= ?3
ORDER BY r.symbol, e.scheduled_time DESC, r.id DESC
"""


def _latest(ctx: JobContext, symbols: list[str]) -> dict[str, dict[str, Any]]:
    oldest = ctx.market_date - MAX_ANALYSIS_AGE
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(symbols, SYMBOLS_PER_QUERY):
        statement = ctx.db.prepare(_LATEST).bind(json.dumps(list(chunk)), ctx.scheduled_time, oldest)
        for row in statement.all().results:
            signals = row["signals"]
            found[row["symbol"]] = {
                "symbol": row["symbol"],
                "sentiment": row["sentiment"],
                "confidence": float(row["confidence"]) if row["confidence"] is not None else None,
                "direction": row["direction"],
                "signals": json.loads(signals) if isinstance(signals, str) else signals,
                "reasoning": row["reasoning"],
                "execution_id": int(row["execution_id"]),
                "analysed_on": row["execution_date"].isoformat(),
                "demo_data": bool(row["demo"]),
            }
    return found


def _line(symbol: str, analysis: dict[str, Any] | None) -> str:
    if analysis is None:
        return f"{symbol}: no analysis in the last {MAX_ANALYSIS_AGE.days} days"
    return ("[DEMO DATA] " if analysis["demo_data"] else "") + (
        f"{symbol}: {analysis['sentiment']}, {analysis['direction']} "
        f"(confidence {analysis['confidence']:.2f}, {analysis['analysed_on']})"
    )


def _sync_positions(ctx: JobContext) -> dict[str, Any]:
    """Every connected user's positions from TastyTrade, counted for the job's record (who failed: the log)."""
    if not ctx.env.settings.tastytrade_api_url:
        return {"skipped": "TastyTrade is not configured for this function"}
    # Loaded here: it brings the token cipher (cryptography), which no other job needs.
    from ttai.jobs.position_sync import sync_every_user  # noqa: PLC0415
    from ttai.services.broker_positions import BrokerPositionSync  # noqa: PLC0415

    return sync_every_user(BrokerPositionSync.from_env(ctx.env)).as_metadata()


def run_pre_market(ctx: JobContext) -> JobOutcome:
    position_sync = _sync_positions(ctx)
    watchers = watchers_by_symbol(ctx.db)
    symbols = sorted(s for s in watchers if not is_option(s))  # the analysis job analyses underlyings only
    latest = _latest(ctx, symbols)
    missing = [s for s in symbols if s not in latest]
    high = [a for a in latest.values() if (a["confidence"] or 0) >= HIGH_CONFIDENCE]
    high_signals = [
        {"symbol": a["symbol"], "confidence": a["confidence"], **signal}
        for a in high
        for signal in a["signals"]
        if signal.get("direction") != "neutral"
    ]
    counts = {s: sum(a["sentiment"] == s for a in latest.values()) for s in ("bullish", "bearish", "neutral")}
    demo = sorted(s for s, a in latest.items() if a["demo_data"])
    summary = (
        f"{len(latest)} of {len(symbols)} watched symbols analysed: {counts['bullish']} bullish, "
        f"{counts['bearish']} bearish, {counts['neutral']} neutral; {len(high)} high-confidence" + demo_note(demo)
    )
    ctx.store_report(
        f"Pre-market {ctx.market_date.isoformat()}",
        summary,
        {
            "market_date": ctx.market_date.isoformat(),
            "analyses": [latest[s] for s in symbols if s in latest],
            "missing": missing,
            "high_confidence_signals": high_signals,
        },
        ("Symbol", "Sentiment", "Direction", "Confidence", "Analysed", "Reasoning"),
        (
            (s, a["sentiment"], a["direction"], a["confidence"], a["analysed_on"], a["reasoning"])
            if (a := latest.get(s))
            else (s, None, None, None, None, "no recent analysis")
            for s in symbols
        ),
        high_confidence=len(high),
    )

    watched_by: dict[str, list[str]] = {}
    for symbol in symbols:
        for user_id in watchers[symbol]:
            watched_by.setdefault(user_id, []).append(symbol)
    title = f"Pre-market report {ctx.market_date.isoformat()}"
    notifications = []
    for user_id, channels in subscribers(ctx.db, "morning_alert").items():
        mine = sorted(watched_by.get(user_id, []))
        lines = [_line(s, latest.get(s)) for s in mine] or ["None of your watchlists holds a symbol yet."]
        body = clip("\n".join(lines))
        data = {"report": "pre-market", "execution_id": ctx.execution_id, "symbols": mine[:50]}
        notifications += user_notifications(ctx.execution_id, user_id, channels, title, body, data)
    sent = ctx.send("NOTIFICATION_QUEUE", notifications)
    return JobOutcome(
        processed=len(symbols),
        successful=len(latest),
        metadata={
            "unit": "symbols",
            "missing": missing,
            "notifications_sent": sent,
            "high_confidence": len(high),
            "position_sync": position_sync,
            **({"demo_data": demo} if demo else {}),
        },
    )

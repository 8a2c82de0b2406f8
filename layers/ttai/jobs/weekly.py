"""The weekly job (Friday 17:00 New York): the week's job executions and analysis signals aggregated into a report.

The week is Monday to Friday of the market date's week; the weekly run itself is left out of its own counts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ttai.jobs.base import JobContext, JobOutcome
from ttai.jobs.indicators import HIGH_CONFIDENCE
from ttai.jobs.reports import demo_note

_EXECUTIONS = """
SELECT job_type, status, count(*) AS runs, round(avg(duration_ms)) AS avg_duration_ms,
       sum(symbols_processed) AS processed, sum(symbols_failed) AS failed
FROM job_executions
WHERE execution_date BETWEEN ?1 AND ?2 AND id <> ?3
GROUP BY job_type, status ORDER BY job_type, status
"""
_SIGNALS = """
WITH week AS (
    SELECT r.symbol, r.sentiment, r.confidence, r.direction, e.scheduled_time, r.id,
           coalesce((r.technical_data ->> 'demo_data')::boolean, false) AS demo
    FROM analysis_results r JOIN job_executions e ON e.id = r.execution_id
    WHERE e.execution_date BETWEEN ?1 AND ?2 AND e.id <> ?3 AND r.error_message IS NULL
),
latest AS (
    SELECT DISTINCT ON (symbol) symbol, sentiment, direction, confidence
    FROM week ORDER BY symbol, scheduled_time DESC, id DESC
)
SELECT w.symbol, count(*) AS analyses,
       count(*) FILTER (WHERE w.sentiment = 'bullish') AS bullish,
       count(*) FILTER (WHERE w.sentiment = 'bearish') AS bearish,
       count(*) FILTER (WHERE w.sentiment = 'neutral') AS neutral,
       count(*) FILTER (WHERE w.confidence >= ?4) AS high_confidence, bool_or(w.demo) AS demo_data,
       l.sentiment AS latest_sentiment, l.direction AS latest_direction, l.confidence AS latest_confidence
FROM week w JOIN latest l USING (symbol)
GROUP BY w.symbol, l.sentiment, l.direction, l.confidence
ORDER BY w.symbol
"""


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Decimals (numeric and count columns over the Data API) as JSON numbers."""
    return {k: (float(v) if v is not None and not isinstance(v, str | int) else v) for k, v in row.items()}


def run_weekly(ctx: JobContext) -> JobOutcome:
    monday = ctx.market_date - timedelta(days=ctx.market_date.weekday())
    friday = monday + timedelta(days=4)
    executions = [_plain(r) for r in ctx.db.prepare(_EXECUTIONS).bind(monday, friday, ctx.execution_id).all().results]
    signals = [
        _plain(r)
        for r in ctx.db.prepare(_SIGNALS).bind(monday, friday, ctx.execution_id, HIGH_CONFIDENCE).all().results
    ]
    runs = sum(int(e["runs"]) for e in executions)
    failed_runs = sum(int(e["runs"]) for e in executions if e["status"] in {"failure", "partial"})
    high = sum(int(s["high_confidence"]) for s in signals)
    demo = [s["symbol"] for s in signals if s["demo_data"]]
    summary = (
        f"Week of {monday.isoformat()}: {runs} job runs ({failed_runs} partial or failed); "
        f"{len(signals)} symbols analysed, {high} high-confidence calls" + demo_note(demo)
    )
    ctx.store_report(
        f"Week of {monday.isoformat()}",
        summary,
        {
            "week_start": monday.isoformat(),
            "week_end": friday.isoformat(),
            "executions": executions,
            "signals": signals,
        },
        ("Symbol", "Analyses", "Bullish", "Bearish", "Neutral", "High confidence", "Latest"),
        (
            (
                s["symbol"],
                s["analyses"],
                s["bullish"],
                s["bearish"],
                s["neutral"],
                s["high_confidence"],
                f"{s['latest_sentiment']} / {s['latest_direction']}",
            )
            for s in signals
        ),
        high_confidence=high,
    )
    return JobOutcome(
        processed=len(signals),
        successful=len(signals),
        metadata={
            "unit": "symbols",
            "week_start": monday.isoformat(),
            "job_runs": runs,
            **({"demo_data": demo} if demo else {}),
        },
    )

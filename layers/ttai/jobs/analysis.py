"""The analysis job (09:30 New York and on demand): every watched symbol's daily closes assessed, stored, cached
and announced to its watchers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta

from ttai.jobs.base import JobContext, JobOutcome
from ttai.jobs.data import Close, is_option, recent_closes, watchers_by_symbol
from ttai.jobs.indicators import HIGH_CONFIDENCE, MIN_CLOSES, InsufficientData, assess
from ttai.jobs.reports import demo_note, message_id
from ttai.messages import AnalysisComplete
from ttai.models.jobs import AnalysisResultIn
from ttai.services.cache import CacheKeys, CacheTier

DEMO_SOURCE = "demo"  # the generated bars `make dev` loads: every result made from them says so
LOOKBACK_BARS = 100  # twice the slow average: Wilder's RSI settles well within it
# Bars older than this before the market date are stale: an analysis of them would describe another market.
MAX_BAR_AGE = timedelta(days=10)


def run_analysis(ctx: JobContext) -> JobOutcome:
    watchers = watchers_by_symbol(ctx.db)
    options = sorted(s for s in watchers if is_option(s))  # no daily bars: their underlyings are analysed
    symbols = sorted(s for s in watchers if not is_option(s))
    closes = recent_closes(ctx.db, symbols, ctx.market_date, LOOKBACK_BARS)
    results = [symbol_result(symbol, closes.get(symbol, []), ctx.market_date) for symbol in symbols]
    errors = {r.symbol: r.error_message for r in results if r.error_message is not None}
    assessed = {r.symbol: r for r in results if r.error_message is None}
    demo_symbols = {r.symbol for r in assessed.values() if is_demo(r)}
    ctx.store_results(results)

    cached = {
        CacheKeys.technical_analysis(r.symbol): json.dumps(
            {
                "symbol": r.symbol,
                "sentiment": r.sentiment,
                "confidence": r.confidence,
                "direction": r.direction,
                "signals": r.signals,
                "technical_data": r.technical_data,
                "reasoning": r.reasoning,
                "execution_id": ctx.execution_id,
                "market_date": ctx.market_date.isoformat(),
            },
            separators=(",", ":"),
        )
        for r in results
        if r.error_message is None
    }
    if cached:
        ctx.cache.kv.put_many(cached, expiration_ttl=CacheTier.ANALYSIS.ttl)

    workflow_id = f"job-{ctx.execution_id}"
    messages = [
        AnalysisComplete(
            id=message_id(ctx.execution_id, symbol, user_id),
            user_id=user_id,
            symbol=symbol,
            recommendation=call_text(a),
            workflow_id=workflow_id,
        )
        for symbol, a in assessed.items()
        for user_id in watchers[symbol]
    ]
    sent = ctx.send("ANALYSIS_QUEUE", messages)

    high = [s for s, a in assessed.items() if (a.confidence or 0.0) >= HIGH_CONFIDENCE]
    counts = {s: sum(a.sentiment == s for a in assessed.values()) for s in ("bullish", "bearish", "neutral")}
    summary = (
        f"{len(assessed)} of {len(symbols)} symbols analysed: {counts['bullish']} bullish, {counts['bearish']} "
        f"bearish, {counts['neutral']} neutral; {len(high)} high-confidence"
        + (f"; {len(errors)} failed" if errors else "")
        + demo_note(sorted(demo_symbols))
    )
    ctx.store_report(
        f"Analysis {ctx.market_date.isoformat()}",
        summary,
        {
            "market_date": ctx.market_date.isoformat(),
            "results": [r.to_record() for r in results],
            "high_confidence": high,
        },
        ("Symbol", "Sentiment", "Direction", "Confidence", "Reasoning / error"),
        ((r.symbol, r.sentiment, r.direction, r.confidence, r.reasoning or r.error_message) for r in results),
        high_confidence=len(high),
    )
    return JobOutcome(
        processed=len(symbols),
        successful=len(assessed),
        errors=errors,
        metadata={
            "unit": "symbols",
            "messages_sent": sent,
            "cached": len(cached),
            "high_confidence": high,
            **({"options_not_analysed": options} if options else {}),
            **({"demo_data": sorted(demo_symbols)} if demo_symbols else {}),
        },
    )


def symbol_result(symbol: str, series: Sequence[Close], market_date: date) -> AnalysisResultIn:
    """One symbol's call from its recent closes (oldest first), or why there is none (``error_message``): no bars,
    bars too old for ``market_date``, or too few of them."""
    try:
        if not series:
            raise InsufficientData(f"no daily bars on or before {market_date.isoformat()}")
        if series[-1].date < market_date - MAX_BAR_AGE:
            raise InsufficientData(f"the latest bar is from {series[-1].date.isoformat()}: too old to analyse")
        if len(series) < MIN_CLOSES:
            raise InsufficientData(f"needs at least {MIN_CLOSES} daily bars, has {len(series)}")
        assessment = assess([c.close for c in series])
    except InsufficientData as exc:
        return AnalysisResultIn(symbol=symbol, error_message=str(exc))
    sources = sorted({c.source for c in series})
    demo = DEMO_SOURCE in sources
    return AnalysisResultIn(
        symbol=symbol,
        sentiment=assessment.sentiment,
        confidence=assessment.confidence,
        direction=assessment.direction,
        reasoning=("[DEMO DATA] " if demo else "") + assessment.reasoning,
        signals=assessment.signals,
        technical_data={
            **assessment.technical_data(),
            "as_of": series[-1].date.isoformat(),
            "bar_sources": sources,
            **({"demo_data": True} if demo else {}),
        },
    )


def is_demo(result: AnalysisResultIn) -> bool:
    """Whether the call was made from the generated demo bars (every result made from them says so)."""
    return bool(result.technical_data and result.technical_data.get("demo_data"))


def call_text(result: AnalysisResultIn) -> str:
    """The call as analysis_complete announces it: ``buy (bullish, confidence 0.80)``."""
    demo = "[DEMO DATA] " if is_demo(result) else ""
    return f"{demo}{result.direction} ({result.sentiment}, confidence {result.confidence or 0.0:.2f})"

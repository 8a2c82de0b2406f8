"""Technical indicators of daily closes and the assessment the analysis job stores: pure functions, no I/O.

- Trend: simple moving averages of the last 20 and 50 closes.
- Momentum: RSI over 14 days with Wilder's smoothing: the first average gain / loss is the plain mean of the first
  ``period`` changes, each later one ``(previous * (period - 1) + current) / period``.
- Volatility: the sample standard deviation (n - 1) of the last 20 daily log returns, annualised by sqrt(252).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

SMA_FAST = 20
SMA_SLOW = 50
RSI_PERIOD = 14
VOLATILITY_WINDOW = 20
TRADING_DAYS_PER_YEAR = 252
MIN_CLOSES = SMA_SLOW  # the slow average is the longest look-back
HIGH_CONFIDENCE = 0.75  # a result at or above this confidence is a high-confidence signal (seed 003's count)
OVERBOUGHT = 70.0
OVERSOLD = 30.0
# How the score is made: trend weighs more than momentum; either alone can move sentiment off neutral.
TREND_WEIGHT = 0.6
MOMENTUM_WEIGHT = 0.4
SENTIMENT_THRESHOLD = 0.2
# Confidence is scaled down when the symbol is volatile: an annualised volatility up to 30% keeps it whole,
# up to 60% keeps 85% of it, more keeps 70%.
VOLATILITY_BANDS: tuple[tuple[float, float], ...] = ((0.30, 1.0), (0.60, 0.85), (math.inf, 0.70))

Sentiment = Literal["bullish", "bearish", "neutral"]
Direction = Literal["buy", "sell", "hold"]
DIRECTIONS: dict[Sentiment, Direction] = {"bullish": "buy", "bearish": "sell", "neutral": "hold"}


class InsufficientData(ValueError):
    """Too few (or unusable) closes for an indicator; the message says what was needed."""


def _check(closes: Sequence[float], needed: int, what: str) -> None:
    if len(closes) < needed:
        raise InsufficientData(f"{what} needs at least {needed} closes, got {len(closes)}")
    for value in closes:
        if not math.isfinite(value) or value <= 0:
            raise InsufficientData(f"{what} needs positive finite closes, got {value!r}")


def sma(closes: Sequence[float], period: int) -> float:
    """The mean of the last ``period`` closes."""
    _check(closes, period, f"SMA {period}")
    window = closes[-period:]
    return math.fsum(window) / period


def rsi(closes: Sequence[float], period: int = RSI_PERIOD) -> float:
    """Wilder's RSI of the whole series (0-100): 100 when nothing fell, 50 when nothing moved."""
    _check(closes, period + 1, f"RSI {period}")
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gain = math.fsum(max(c, 0.0) for c in changes[:period]) / period
    loss = math.fsum(max(-c, 0.0) for c in changes[:period]) / period
    for change in changes[period:]:
        gain = (gain * (period - 1) + max(change, 0.0)) / period
        loss = (loss * (period - 1) + max(-change, 0.0)) / period
    if loss == 0:
        return 50.0 if gain == 0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def volatility(closes: Sequence[float], window: int = VOLATILITY_WINDOW) -> float:
    """Annualised sample standard deviation of the last ``window`` daily log returns."""
    _check(closes, window + 1, f"volatility over {window} days")
    tail = closes[-(window + 1) :]
    returns = [math.log(b / a) for a, b in itertools.pairwise(tail)]
    mean = math.fsum(returns) / window
    variance = math.fsum((r - mean) ** 2 for r in returns) / (window - 1)
    return math.sqrt(variance) * math.sqrt(TRADING_DAYS_PER_YEAR)


@dataclass(frozen=True, slots=True)
class Assessment:
    close: float
    sma_fast: float
    sma_slow: float
    rsi: float
    volatility: float
    trend_score: float
    momentum_score: float
    score: float
    sentiment: Sentiment
    direction: Direction
    confidence: float
    signals: list[dict[str, Any]]
    reasoning: str

    def technical_data(self) -> dict[str, float]:
        return {
            "close": self.close,
            f"sma_{SMA_FAST}": round(self.sma_fast, 6),
            f"sma_{SMA_SLOW}": round(self.sma_slow, 6),
            f"rsi_{RSI_PERIOD}": round(self.rsi, 4),
            f"volatility_{VOLATILITY_WINDOW}d": round(self.volatility, 6),
            "trend_score": round(self.trend_score, 4),
            "momentum_score": round(self.momentum_score, 4),
            "score": round(self.score, 4),
        }


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def trend_score(close: float, fast: float, slow: float) -> float:
    """+1 when close > fast > slow, -1 when close < fast < slow, else half the sign of (fast - slow)."""
    if close > fast > slow:
        return 1.0
    if close < fast < slow:
        return -1.0
    return 0.5 * _sign(fast - slow)


def momentum_score(rsi_value: float) -> float:
    """(RSI - 50) / 20, clipped to [-1, 1]: RSI 70 and above counts +1, 30 and below -1."""
    return max(-1.0, min(1.0, (rsi_value - 50.0) / 20.0))


def volatility_factor(annualised: float) -> float:
    for ceiling, factor in VOLATILITY_BANDS:
        if annualised <= ceiling:
            return factor
    return VOLATILITY_BANDS[-1][1]  # pragma: no cover - the last band is unbounded


def assess(closes: Sequence[float]) -> Assessment:
    """Trend, momentum and volatility of a series of daily closes (oldest first) as a call with its reasons."""
    _check(closes, MIN_CLOSES, "the analysis")
    close = closes[-1]
    fast, slow = sma(closes, SMA_FAST), sma(closes, SMA_SLOW)
    rsi_value, vol = rsi(closes, RSI_PERIOD), volatility(closes, VOLATILITY_WINDOW)
    trend, momentum = trend_score(close, fast, slow), momentum_score(rsi_value)
    score = TREND_WEIGHT * trend + MOMENTUM_WEIGHT * momentum
    sentiment: Sentiment = (
        "bullish" if score >= SENTIMENT_THRESHOLD else "bearish" if score <= -SENTIMENT_THRESHOLD else "neutral"
    )
    direction = DIRECTIONS[sentiment]
    stretched = (sentiment == "bullish" and rsi_value >= OVERBOUGHT) or (
        sentiment == "bearish" and rsi_value <= OVERSOLD
    )
    if stretched:
        direction = "hold"  # the move is already extended: wait rather than chase it
    confidence = round(min(1.0, 0.5 + 0.5 * abs(score)) * volatility_factor(vol), 4)

    trend_name = {1.0: "uptrend", -1.0: "downtrend"}.get(trend, "mixed_trend")
    trend_direction: Sentiment = "bullish" if trend > 0 else "bearish" if trend < 0 else "neutral"
    momentum_name = "overbought" if rsi_value >= OVERBOUGHT else "oversold" if rsi_value <= OVERSOLD else "momentum"
    momentum_direction: Sentiment = "bullish" if momentum > 0 else "bearish" if momentum < 0 else "neutral"
    signals: list[dict[str, Any]] = [
        {
            "type": "trend",
            "name": trend_name,
            "direction": trend_direction,
            "value": round(fast - slow, 6),
            "confidence": confidence,
        },
        {
            "type": "momentum",
            "name": momentum_name,
            "direction": momentum_direction,
            "value": round(rsi_value, 4),
            "confidence": confidence,
        },
        {
            "type": "volatility",
            "name": "high_volatility" if vol > VOLATILITY_BANDS[0][0] else "normal_volatility",
            "direction": "neutral",
            "value": round(vol, 6),
            "confidence": confidence,
        },
    ]
    reasoning = (
        f"Close {close:.2f} against SMA {SMA_FAST} {fast:.2f} and SMA {SMA_SLOW} {slow:.2f}: "
        f"{trend_name.replace('_', ' ')}. RSI {RSI_PERIOD} (Wilder) {rsi_value:.1f}: {momentum_name}. "
        f"{VOLATILITY_WINDOW}-day volatility {vol:.1%} annualised. Score {score:+.2f} -> {sentiment}, {direction}"
        + (" (extended move: hold rather than chase)." if stretched else ".")
    )
    return Assessment(
        close=close,
        sma_fast=fast,
        sma_slow=slow,
        rsi=rsi_value,
        volatility=vol,
        trend_score=trend,
        momentum_score=momentum,
        score=score,
        sentiment=sentiment,
        direction=direction,
        confidence=confidence,
        signals=signals,
        reasoning=reasoning,
    )

"""Indicator maths against figures worked out by hand (the working is in the comments)."""

from __future__ import annotations

import math

import pytest

from ttai.jobs.indicators import (
    InsufficientData,
    assess,
    momentum_score,
    rsi,
    sma,
    trend_score,
    volatility,
    volatility_factor,
)


def test_sma_is_the_mean_of_the_last_n_closes() -> None:
    assert sma([1.0, 2.0, 3.0, 4.0, 5.0], 3) == 4.0  # (3 + 4 + 5) / 3
    assert sma([2.0, 4.0], 2) == 3.0


def test_rsi_uses_wilders_smoothing() -> None:
    # closes 10, 11, 10.5, 11.5, 11, 12 -> changes +1, -0.5, +1, -0.5, +1; period 3.
    # Seed from the first three changes: gain (1 + 0 + 1) / 3 = 2/3, loss (0 + 0.5 + 0) / 3 = 1/6.
    # -0.5: gain (2/3 * 2 + 0) / 3 = 4/9,    loss (1/6 * 2 + 0.5) / 3 = 5/18.
    # +1:   gain (4/9 * 2 + 1) / 3 = 17/27,  loss (5/18 * 2 + 0) / 3 = 5/27.
    # RS = 17/5 = 3.4; RSI = 100 - 100 / 4.4 = 850/11 = 77.2727...
    assert rsi([10.0, 11.0, 10.5, 11.5, 11.0, 12.0], period=3) == pytest.approx(77.27272727, abs=1e-8)


def test_rsi_edges() -> None:
    assert rsi([1.0, 2.0, 3.0, 4.0], period=3) == 100.0  # nothing fell
    assert rsi([4.0, 3.0, 2.0, 1.0], period=3) == 0.0  # nothing rose: RS = 0
    assert rsi([5.0, 5.0, 5.0, 5.0], period=3) == 50.0  # nothing moved


def test_volatility_is_the_annualised_sample_stdev_of_log_returns() -> None:
    # closes 100, 110, 99, 108.9 -> log returns a = ln 1.1, b = ln 0.9, a.
    # mean m = (2a + b) / 3; deviations (a - b)/3, -2(a - b)/3, (a - b)/3;
    # sample variance = (2 (a-b)^2 / 9 + 4 (a-b)^2 / 9) / 2 = (a - b)^2 / 3, and a - b = ln(11/9).
    # annualised: ln(11/9) / sqrt(3) * sqrt(252) = ln(11/9) * sqrt(84) = 0.200670695 * 9.165151390 = 1.839177...
    assert volatility([100.0, 110.0, 99.0, 108.9], window=3) == pytest.approx(1.8391775, abs=1e-6)
    assert volatility([100.0, 110.0, 99.0, 108.9], window=3) == pytest.approx(math.log(11 / 9) * math.sqrt(84))


def test_too_few_or_bad_closes_raise() -> None:
    with pytest.raises(InsufficientData, match="SMA 3 needs at least 3 closes, got 2"):
        sma([1.0, 2.0], 3)
    with pytest.raises(InsufficientData, match="RSI 14 needs at least 15 closes"):
        rsi([1.0] * 14)
    with pytest.raises(InsufficientData, match="positive finite closes"):
        volatility([1.0, 2.0, 0.0, 3.0], window=3)
    with pytest.raises(InsufficientData, match="the analysis needs at least 50 closes, got 49"):
        assess([1.0] * 49)


def test_scores() -> None:
    assert trend_score(12.0, 11.0, 10.0) == 1.0
    assert trend_score(9.0, 10.0, 11.0) == -1.0
    assert trend_score(10.5, 11.0, 10.0) == 0.5  # fast above slow, close below fast: mixed, leaning up
    assert trend_score(10.0, 10.0, 10.0) == 0.0
    assert momentum_score(60.0) == 0.5  # (60 - 50) / 20
    assert momentum_score(85.0) == 1.0
    assert momentum_score(20.0) == -1.0
    assert [volatility_factor(v) for v in (0.2, 0.3, 0.45, 0.9)] == [1.0, 1.0, 0.85, 0.7]


def test_a_steady_rise_is_bullish_but_overbought_so_hold() -> None:
    # closes 100..149: SMA 20 = mean(130..149) = 139.5, SMA 50 = mean(100..149) = 124.5; no losses: RSI 100.
    # trend +1, momentum +1: score 0.6 + 0.4 = 1.0 -> bullish; RSI >= 70: hold. Returns of ~0.7% a day barely vary:
    # volatility near 0, factor 1: confidence min(1, 0.5 + 0.5) = 1.0.
    a = assess([100.0 + i for i in range(50)])
    assert (a.sma_fast, a.sma_slow, a.rsi) == (139.5, 124.5, 100.0)
    assert (a.sentiment, a.direction, a.confidence) == ("bullish", "hold", 1.0)
    assert [s["name"] for s in a.signals] == ["uptrend", "overbought", "normal_volatility"]
    assert "extended move" in a.reasoning


def test_a_flat_series_is_neutral() -> None:
    # Every average 10, RSI 50 (nothing moved), no volatility: score 0 -> neutral, hold, confidence 0.5.
    a = assess([10.0] * 60)
    assert (a.trend_score, a.momentum_score, a.volatility) == (0.0, 0.0, 0.0)
    assert (a.sentiment, a.direction, a.confidence) == ("neutral", "hold", 0.5)

"""Pre-market, intraday, end-of-day and weekly jobs, each on a fixed data set in a database of its own."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, date, datetime
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.jobs_fixtures import JobWorld, new_world, zigzag
from ttai.jobs import run_job
from ttai.services.cache import CacheService

FRIDAY_OPEN = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)  # 09:30 EST
MONDAY_PRE_MARKET = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 09:00 EDT
MONDAY_1100 = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 11:00 EDT
MONDAY_CLOSE = datetime(2026, 3, 9, 20, 30, tzinfo=UTC)  # 16:30 EDT
EXPIRATION = date(2026, 3, 20)


def _ticker(prefix: str) -> str:
    return prefix + "".join(random.choices(string.ascii_uppercase, k=3))


def _occ(root: str, right: str = "C", strike: int = 150) -> str:
    return f"{root:<6}{EXPIRATION:%y%m%d}{right}{strike * 1000:08d}"


@pytest.fixture
def world(stack: LocalStack) -> JobWorld:
    return new_world(stack)


def _execution(world: JobWorld, run_id: int) -> dict[str, Any]:
    return world.sql("SELECT * FROM job_executions WHERE id = ?", run_id)[0]


def _report(world: JobWorld, run_id: int) -> dict[str, Any]:
    rows = world.sql("SELECT * FROM report_snapshots WHERE execution_id = ?", run_id)
    assert len(rows) == 1
    return rows[0]


# ---------------------------------------------------------------- pre-market


def test_pre_market_reports_the_latest_analyses_and_notifies_morning_alert_users(world: JobWorld) -> None:
    up, down, missing = _ticker("U"), _ticker("D"), _ticker("M")
    ann = world.user("ann", morning_alert=True, channels=["email", "push"])
    ben = world.user("ben", morning_alert=False, channels=["email"])
    world.watch(ann, up, down, missing)
    world.watch(ben, up)
    world.bars(up, zigzag(100.0, 3.0, 2.0, 60), date(2026, 3, 6))
    world.bars(down, zigzag(200.0, 2.0, 3.0, 60), date(2026, 3, 6))
    analysis = run_job(world.env, "analysis", FRIDAY_OPEN)
    world.messages("ANALYSIS_QUEUE")

    run = run_job(world.env, "pre-market", MONDAY_PRE_MARKET)

    assert run.status == "success"
    row = _execution(world, run.id)
    assert (row["symbols_processed"], row["symbols_successful"], row["symbols_failed"]) == (3, 2, 0)
    assert row["metadata"]["missing"] == [missing]
    report = _report(world, run.id)
    content = report["content"]
    assert [a["symbol"] for a in content["analyses"]] == sorted([up, down])
    assert {a["execution_id"] for a in content["analyses"]} == {analysis.id}
    by_symbol = {a["symbol"]: a for a in content["analyses"]}
    assert (by_symbol[up]["sentiment"], by_symbol[up]["direction"]) == ("bullish", "buy")
    assert by_symbol[up]["analysed_on"] == "2026-03-06"
    # Both calls are high-confidence (0.78 and 0.88, worked out in test_jobs_analysis): their trend and momentum
    # signals (the volatility signal has no direction) are the report's high-confidence signals.
    assert report["high_confidence_count"] == 2
    assert sorted((s["symbol"], s["type"]) for s in content["high_confidence_signals"]) == sorted(
        [(up, "trend"), (up, "momentum"), (down, "trend"), (down, "momentum")]
    )
    assert report["report_date"] == date(2026, 3, 9)
    assert f"<td>{up}</td>" in report["html_snapshot"]

    notifications = world.messages("NOTIFICATION_QUEUE")
    assert sorted((n["userId"], n["channel"]) for n in notifications) == [(ann, "email"), (ann, "push")]
    body = notifications[0]["body"]
    assert f"{up}: bullish, buy (confidence 0.78, 2026-03-06)" in body
    assert f"{missing}: no analysis in the last 7 days" in body
    assert notifications[0]["title"] == "Pre-market report 2026-03-09"

    again = run_job(world.env, "pre-market", MONDAY_PRE_MARKET)
    assert not again.ran
    assert world.messages("NOTIFICATION_QUEUE") == []


# ------------------------------------------------------------------ intraday


def _alert(world: JobWorld, user_id: str, symbol: str, kind: str, condition: str, threshold: float | None) -> int:
    row = world.sql(
        "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold) VALUES (?, ?, ?, ?, ?) RETURNING id",
        user_id,
        symbol,
        kind,
        condition,
        threshold,
    )
    return int(row[0]["id"])


def _market(world: JobWorld, symbol: str, last: float, *, bid: float = 4.0, ask: float = 4.4) -> None:
    now = datetime.now(UTC).isoformat()
    cache = CacheService(world.env.KV)
    cache.set_quotes({symbol: {"symbol": symbol, "last": last, "updated_at": now}})
    contract = {
        "symbol": _occ(symbol),
        "option_type": "call",
        "strike": 150.0,
        "expiration": EXPIRATION.isoformat(),
        "bid": bid,
        "ask": ask,
        "delta": 0.62,
    }
    chain = {"symbol": symbol, "expiration": EXPIRATION.isoformat(), "contracts": [contract], "updated_at": now}
    cache.set_chain(symbol, chain, EXPIRATION.isoformat())


def test_intraday_fires_the_alerts_the_cache_meets_and_records_the_one_it_cannot_evaluate(world: JobWorld) -> None:
    px, nq = _ticker("P"), _ticker("N")
    _market(world, px, 155.0)
    ann = world.user("ann")
    fires_price = _alert(world, ann, px, "price", "above", 150)
    _alert(world, ann, px, "price", "below", 100)
    no_quote = _alert(world, ann, nq, "price", "above", 10)
    fires_delta = _alert(world, ann, _occ(px), "delta", "above", 0.5)
    _alert(world, ann, _occ(px), "delta", "below", 0.2)
    fires_dte = _alert(world, ann, _occ(px), "dte", "below", 14)  # 11 days from Monday 9 March
    not_an_option = _alert(world, ann, px, "dte", "below", 14)
    done = _alert(world, ann, px, "price", "above", 1)
    world.sql("UPDATE alerts SET status = 'triggered', triggered_at = now() WHERE id = ?", done)

    run = run_job(world.env, "intraday", MONDAY_1100)

    assert run.status == "partial"
    row = _execution(world, run.id)
    assert (row["symbols_processed"], row["symbols_successful"], row["symbols_failed"]) == (7, 6, 1)
    assert row["metadata"]["errors"] == {
        f"alert {not_an_option}": f"dte alert on {px}: {px} is not an OCC option symbol"
    }
    assert row["metadata"]["not_evaluated_no_data"] == [no_quote]
    messages = world.messages("ANALYSIS_QUEUE")
    assert sorted(m["alertId"] for m in messages) == sorted([fires_price, fires_delta, fires_dte])
    fired = {m["alertId"]: m for m in messages}
    assert fired[fires_price]["currentValue"] == 155.0
    assert fired[fires_price]["condition"] == "price above 150"
    assert fired[fires_delta]["currentValue"] == 0.62
    assert fired[fires_dte]["currentValue"] == 11.0
    assert all(m["type"] == "alert_triggered" and m["userId"] == ann for m in messages)
    # The consumer marks alerts; the job leaves them active.
    assert world.sql("SELECT count(*) AS n FROM alerts WHERE status = 'active'")[0]["n"] == 7

    assert not run_job(world.env, "intraday", MONDAY_1100).ran
    assert world.messages("ANALYSIS_QUEUE") == []


def test_intraday_sends_no_alert_for_a_price_its_event_could_not_record(world: JobWorld) -> None:
    """An alert event keeps its value as numeric(18, 6): a quote at 10^12 or more would fail that insert on every
    delivery, so the job records the alert as not evaluated instead of sending it."""
    huge = _ticker("H")
    _market(world, huge, 2e12)
    ann = world.user("ann")
    unrecordable = _alert(world, ann, huge, "price", "above", 150)

    run = run_job(world.env, "intraday", MONDAY_1100)

    row = _execution(world, run.id)
    assert row["metadata"]["errors"] == {
        f"alert {unrecordable}": f"price alert on {huge}: 2e+12 is past what an alert event records"
    }
    assert world.messages("ANALYSIS_QUEUE") == []
    assert world.sql("SELECT status FROM alerts WHERE id = ?", unrecordable)[0]["status"] == "active"


# ---------------------------------------------------------------- end of day


def _position(world: JobWorld, user_id: str, symbol: str, quantity: int, cost: float, **option: Any) -> None:
    world.sql(
        "INSERT INTO positions (user_id, symbol, quantity, direction, average_cost, position_type, option_type, "
        "strike, expiration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        user_id,
        symbol,
        abs(quantity),
        "short" if quantity < 0 else "long",
        cost,
        "option" if option else "stock",
        option.get("option_type"),
        option.get("strike"),
        option.get("expiration"),
    )


def test_end_of_day_marks_positions_and_sends_each_subscriber_their_own_figures(world: JobWorld) -> None:
    px, nq = _ticker("P"), _ticker("N")
    _market(world, px, 155.0, bid=4.0, ask=4.4)
    ann = world.user("ann", eod_summary=True, channels=["email"])
    ben = world.user("ben", eod_summary=False, channels=["email"])
    _position(world, ann, px, 10, 140.0)  # (155 - 140) x 10 = +150.00, value 1,550.00
    _position(world, ann, px, 2, 3.0, option_type="call", strike=150, expiration=EXPIRATION)  # mid 4.20: +240.00
    _position(world, ann, nq, -5, 20.0)  # no quote
    _position(world, ben, px, -3, 160.0)  # short: -(155 - 160) x 3 = +15.00

    run = run_job(world.env, "end-of-day", MONDAY_CLOSE)

    assert run.status == "partial"
    row = _execution(world, run.id)
    assert (row["symbols_processed"], row["symbols_successful"], row["symbols_failed"]) == (4, 3, 1)
    assert list(row["metadata"]["errors"].values()) == [f"no cached price for {nq}"]
    notifications = world.messages("NOTIFICATION_QUEUE")
    assert [(n["userId"], n["channel"]) for n in notifications] == [(ann, "email")]
    body = notifications[0]["body"]
    assert f"{px}: mark 155.00, value 1,550.00, unrealized +150.00" in body
    assert f"{px}: mark 4.20, value 840.00, unrealized +240.00" in body
    assert "Unrealized P&L +390.00 over 2 marked position(s); 1 without a price today" in body
    report = _report(world, run.id)
    assert report["content"]["positions"] == 4
    assert report["content"]["marked"] == 3
    assert report["content"]["users"] == 2
    assert report["content"]["unpriced_symbols"] == [nq]
    assert "+150" not in json.dumps(report["content"])  # no one's P&L in the shared report


def test_end_of_day_leaves_unpriced_an_option_whose_stored_expiration_no_date_can_hold(world: JobWorld) -> None:
    px = _ticker("P")
    _market(world, px, 155.0, bid=4.0, ask=4.4)
    ann = world.user("ann", eod_summary=True, channels=["email"])
    _position(world, ann, px, 10, 140.0)
    world.sql(  # written by hand: the API refuses such a date, and the Data API returns it as text
        "INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type, option_type, strike, "
        "expiration) VALUES (?, ?, 2, 3, 'option', 'call', 150, 'infinity'::date)",
        ann,
        px,
    )

    run = run_job(world.env, "end-of-day", MONDAY_CLOSE)

    assert run.status == "partial"
    row = _execution(world, run.id)
    assert (row["symbols_processed"], row["symbols_successful"], row["symbols_failed"]) == (2, 1, 1)
    assert list(row["metadata"]["errors"].values()) == [f"no cached price for {px}"]


# -------------------------------------------------------------------- weekly


def test_weekly_aggregates_the_weeks_runs_and_signals(world: JobWorld) -> None:
    up, down, short = _ticker("U"), _ticker("D"), _ticker("S")
    ann = world.user("ann")
    world.watch(ann, up, down, short)
    world.bars(up, zigzag(100.0, 3.0, 2.0, 60), date(2026, 3, 6))
    world.bars(down, zigzag(200.0, 2.0, 3.0, 60), date(2026, 3, 6))
    world.bars(short, zigzag(50.0, 1.0, 0.5, 30), date(2026, 3, 6))
    run_job(world.env, "analysis", FRIDAY_OPEN)  # the week before: not counted
    run_job(world.env, "analysis", datetime(2026, 3, 9, 13, 30, tzinfo=UTC))
    run_job(world.env, "analysis", datetime(2026, 3, 10, 13, 30, tzinfo=UTC))
    run_job(world.env, "intraday", datetime(2026, 3, 10, 14, 0, tzinfo=UTC))
    run_job(world.env, "analysis", datetime(2026, 3, 14, 13, 30, tzinfo=UTC))  # Saturday: skipped

    run = run_job(world.env, "weekly", datetime(2026, 3, 13, 21, 0, tzinfo=UTC))

    assert run.status == "success"
    report = _report(world, run.id)
    content = report["content"]
    assert (content["week_start"], content["week_end"]) == ("2026-03-09", "2026-03-13")
    executions = {(e["job_type"], e["status"]): e["runs"] for e in content["executions"]}
    assert executions == {("analysis", "partial"): 2, ("intraday", "success"): 1}
    signals = {s["symbol"]: s for s in content["signals"]}
    assert sorted(signals) == sorted([up, down])
    assert (signals[up]["analyses"], signals[up]["bullish"], signals[up]["bearish"]) == (2, 2, 0)
    assert (signals[down]["analyses"], signals[down]["bearish"]) == (2, 2)
    assert (signals[up]["latest_sentiment"], signals[up]["latest_direction"]) == ("bullish", "buy")
    assert report["high_confidence_count"] == 4
    assert report["summary"].startswith("Week of 2026-03-09: 3 job runs (2 partial or failed); 2 symbols analysed")
    world.messages("ANALYSIS_QUEUE")

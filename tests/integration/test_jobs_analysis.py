"""The analysis job and the run bookkeeping around it, on a fixed data set in a database of its own."""

from __future__ import annotations

import json
import math
import random
import string
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.jobs_fixtures import JobWorld, new_world, zigzag
from ttai.jobs import UnknownJobType, run_job
from ttai.jobs import analysis as analysis_job
from ttai.services.cache import CacheKeys

MONDAY_OPEN = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # 09:30 in New York (EDT since 2026-03-08)


def _symbol(prefix: str) -> str:
    return prefix + "".join(random.choices(string.ascii_uppercase, k=4))


@pytest.fixture(scope="module")
def world(stack: LocalStack) -> JobWorld:
    return new_world(stack)


@pytest.fixture(scope="module")
def data(world: JobWorld) -> dict[str, Any]:
    """Two users; a rising, a falling and a too-short symbol; bars up to the Friday before MONDAY_OPEN."""
    up, down, short = _symbol("U"), _symbol("D"), _symbol("S")
    ann = world.user("ann")
    ben = world.user("ben")
    world.watch(ann, up, down, short)
    world.watch(ben, up, f"{up:<6}260320C00150000")  # an option: its underlying is analysed, not it
    friday = date(2026, 3, 6)
    world.bars(up, zigzag(100.0, 3.0, 2.0, 60), friday)
    world.bars(down, zigzag(200.0, 2.0, 3.0, 60), friday)
    world.bars(short, zigzag(50.0, 1.0, 0.5, 30), friday)
    return {"up": up, "down": down, "short": short, "ann": ann, "ben": ben}


def _results(world: JobWorld, execution_id: int) -> dict[str, dict[str, Any]]:
    rows = world.sql("SELECT * FROM analysis_results WHERE execution_id = ? ORDER BY symbol", execution_id)
    return {row["symbol"]: row for row in rows}


def test_analysis_of_the_fixed_set_is_partial_with_the_short_symbol_recorded(
    world: JobWorld, data: dict[str, Any]
) -> None:
    run = run_job(world.env, "analysis", MONDAY_OPEN)

    assert run.ran
    assert run.status == "partial"
    assert run.execution_date == date(2026, 3, 9)
    row = world.sql("SELECT * FROM job_executions WHERE id = ?", run.id)[0]
    assert (row["symbols_processed"], row["symbols_successful"], row["symbols_failed"]) == (3, 2, 1)
    assert row["finished_at"] is not None
    assert row["duration_ms"] >= 0
    metadata = row["metadata"] if isinstance(row["metadata"], dict) else json.loads(row["metadata"])
    assert metadata["errors"] == {data["short"]: "needs at least 50 daily bars, has 30"}
    assert metadata["trigger"] == "schedule"
    assert metadata["options_not_analysed"] == [f"{data['up']:<6}260320C00150000"]

    results = _results(world, run.id)
    assert results[data["short"]]["error_message"] == "needs at least 50 daily bars, has 30"
    assert results[data["short"]]["sentiment"] is None
    up, down = results[data["up"]], results[data["down"]]
    assert (up["sentiment"], up["direction"]) == ("bullish", "buy")
    assert (down["sentiment"], down["direction"]) == ("bearish", "sell")
    closes = zigzag(100.0, 3.0, 2.0, 60)
    technical = up["technical_data"]
    assert math.isclose(technical["sma_20"], sum(closes[-20:]) / 20, rel_tol=1e-9)
    assert math.isclose(technical["sma_50"], sum(closes[-50:]) / 50, rel_tol=1e-9)
    assert technical["as_of"] == "2026-03-06"
    assert [s["type"] for s in up["signals"]] == ["trend", "momentum", "volatility"]
    # By hand. UP closes: c(2k) = 100 + k, c(2k+1) = 103 + k, last c59 = 132. SMA 20 = (120..129 + 123..132) / 20
    # = 2520 / 20 = 126; SMA 50 = (105..129 + 108..132) / 50 = 5925 / 50 = 118.5: 132 > 126 > 118.5, trend +1.
    # Changes alternate +3 / -2; Wilder's averages settle on the two-day cycle: after an up day gain 42/27 and
    # loss 26/27, RS = 42/26, RSI = 61.8, momentum (61.8 - 50) / 20 = 0.59; score 0.6 + 0.4 x 0.59 = 0.835.
    # Log returns alternate about +0.0234 / -0.0155: sample stdev ~0.0200 x sqrt(252) = ~0.32 > 0.30, factor 0.85.
    # Confidence (0.5 + 0.5 x 0.835) x 0.85 = 0.78.
    assert technical["sma_20"] == 126.0
    assert technical["sma_50"] == 118.5
    assert technical["rsi_14"] == pytest.approx(61.8, abs=0.1)
    assert float(up["confidence"]) == pytest.approx(0.78, abs=0.005)
    # DOWN: c59 = 173 < SMA 20 176.5 < SMA 50 184, trend -1; +2 / -3 cycle: RS = (28/27) / (39/27), RSI 41.8,
    # momentum -0.41, score -0.764; volatility ~0.23, factor 1; confidence 0.5 + 0.5 x 0.764 = 0.88.
    assert down["technical_data"]["sma_20"] == 176.5
    assert down["technical_data"]["sma_50"] == 184.0
    assert down["technical_data"]["rsi_14"] == pytest.approx(41.8, abs=0.1)
    assert float(down["confidence"]) == pytest.approx(0.88, abs=0.005)

    cached = world.env.KV.get(CacheKeys.technical_analysis(data["up"]), "json")
    assert cached["sentiment"] == "bullish"
    assert cached["execution_id"] == run.id
    assert world.env.KV.get(CacheKeys.technical_analysis(data["short"]), "json") is None

    messages = world.messages("ANALYSIS_QUEUE")
    sent = sorted((m["userId"], m["symbol"]) for m in messages)
    assert sent == sorted([(data["ann"], data["up"]), (data["ann"], data["down"]), (data["ben"], data["up"])])
    assert all(m["type"] == "analysis_complete" and m["workflowId"] == f"job-{run.id}" for m in messages)

    report = world.sql("SELECT * FROM report_snapshots WHERE execution_id = ?", run.id)
    assert len(report) == 1
    assert report[0]["report_type"] == "analysis"
    assert "2 of 3 symbols analysed" in report[0]["summary"]


def test_the_same_scheduled_time_again_is_a_no_op(world: JobWorld, data: dict[str, Any]) -> None:
    first = run_job(world.env, "analysis", datetime(2026, 3, 10, 13, 30, tzinfo=UTC))
    world.messages("ANALYSIS_QUEUE")
    count = world.sql("SELECT count(*) AS n FROM job_executions")[0]["n"]
    results = world.sql("SELECT count(*) AS n FROM analysis_results")[0]["n"]

    # The same instant written in New York time is the same run.
    again = run_job(world.env, "analysis", datetime(2026, 3, 10, 9, 30, tzinfo=ZoneInfo("America/New_York")))

    assert again.id == first.id
    assert not again.ran
    assert again.status == first.status
    assert world.sql("SELECT count(*) AS n FROM job_executions")[0]["n"] == count
    assert world.sql("SELECT count(*) AS n FROM analysis_results")[0]["n"] == results
    assert world.messages("ANALYSIS_QUEUE") == []


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        (datetime(2026, 7, 3, 13, 30, tzinfo=UTC), "market closed: Independence Day (observed)"),
        (datetime(2026, 3, 7, 14, 30, tzinfo=UTC), "market closed: weekend"),
    ],
)
def test_a_scheduled_run_on_a_closed_day_is_skipped(
    world: JobWorld, data: dict[str, Any], moment: datetime, reason: str
) -> None:
    run = run_job(world.env, "analysis", moment)

    assert run.status == "skipped"
    row = world.sql("SELECT metadata, symbols_processed FROM job_executions WHERE id = ?", run.id)[0]
    assert row["metadata"]["skipped_because"] == reason
    assert row["symbols_processed"] == 0
    assert world.sql("SELECT count(*) AS n FROM analysis_results WHERE execution_id = ?", run.id)[0]["n"] == 0
    assert world.messages("ANALYSIS_QUEUE") == []


def test_a_manual_run_on_a_closed_day_runs(world: JobWorld, data: dict[str, Any]) -> None:
    run = run_job(world.env, "analysis", datetime(2026, 3, 8, 15, 0, tzinfo=UTC), trigger="manual")

    assert run.ran
    assert run.status == "partial"
    assert world.sql("SELECT metadata FROM job_executions WHERE id = ?", run.id)[0]["metadata"]["trigger"] == "manual"
    world.messages("ANALYSIS_QUEUE")


def test_a_failing_job_records_failure_re_raises_and_is_not_run_again(
    world: JobWorld, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = datetime(2026, 3, 11, 13, 30, tzinfo=UTC)

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("closes unreadable")

    monkeypatch.setattr(analysis_job, "recent_closes", unreadable)
    with pytest.raises(RuntimeError, match="closes unreadable"):
        run_job(world.env, "analysis", moment)
    row = world.sql("SELECT * FROM job_executions WHERE job_type = 'analysis' AND scheduled_time = ?", moment)[0]
    assert row["status"] == "failure"
    assert row["finished_at"] is not None
    assert row["error_message"] == "RuntimeError: closes unreadable"

    monkeypatch.undo()
    retried = run_job(world.env, "analysis", moment)  # Lambda's retry of the failed invocation
    assert not retried.ran
    assert retried.status == "failure"
    assert world.messages("ANALYSIS_QUEUE") == []


def test_an_unknown_job_type_writes_nothing(world: JobWorld) -> None:
    before = world.sql("SELECT count(*) AS n FROM job_executions")[0]["n"]
    with pytest.raises(UnknownJobType, match="unknown job type 'lunch'"):
        run_job(world.env, "lunch", MONDAY_OPEN)
    assert world.sql("SELECT count(*) AS n FROM job_executions")[0]["n"] == before


def test_a_run_left_running_by_a_dead_invocation_is_taken_over_once_stale(
    world: JobWorld, data: dict[str, Any]
) -> None:
    stale, fresh = datetime(2026, 3, 12, 13, 30, tzinfo=UTC), datetime(2026, 3, 13, 13, 30, tzinfo=UTC)
    now = datetime.now(UTC)
    for moment, started in ((stale, now - timedelta(minutes=30)), (fresh, now - timedelta(minutes=1))):
        row = world.sql(
            "INSERT INTO job_executions (job_type, scheduled_time, execution_date, status, started_at) "
            "VALUES ('analysis', ?, ?, 'running', ?) RETURNING id",
            moment,
            moment.date(),
            started,
        )[0]
        world.sql(
            "INSERT INTO analysis_results (execution_id, symbol, error_message) VALUES (?, 'OLD', 'x')", row["id"]
        )

    still_running = run_job(world.env, "analysis", fresh)
    taken_over = run_job(world.env, "analysis", stale)

    assert not still_running.ran
    assert still_running.status == "running"  # another invocation may still be at work: left alone
    assert taken_over.ran
    assert taken_over.status == "partial"
    assert (
        "took_over_run_started"
        in world.sql("SELECT metadata FROM job_executions WHERE id = ?", taken_over.id)[0]["metadata"]
    )
    symbols = [
        r["symbol"] for r in world.sql("SELECT symbol FROM analysis_results WHERE execution_id = ?", taken_over.id)
    ]
    assert sorted(symbols) == sorted([data["up"], data["down"], data["short"]])  # the dead run's row is gone
    world.messages("ANALYSIS_QUEUE")


def test_aws_calls_of_an_analysis_run(world: JobWorld, data: dict[str, Any]) -> None:
    env = world.env
    with CallCounter(env.client("rds-data"), env.client("dynamodb"), env.client("sqs")) as calls:
        run = run_job(env, "analysis", datetime(2026, 3, 16, 13, 30, tzinfo=UTC))
    assert run.status == "partial"
    # SQL: the outbox's waiting messages (none), claim, watchers, closes (one query for up to 50 symbols), results
    # (one statement for all), report, finish (staging the announcements in the outbox), their outbox rows deleted
    # once sent. KV: the two analyses in one BatchWriteItem. SQS: the three announcements in one SendMessageBatch.
    assert calls.by_operation() == {"ExecuteStatement": 8, "BatchWriteItem": 1, "SendMessageBatch": 1}
    world.messages("ANALYSIS_QUEUE")

    with CallCounter(env.client("rds-data"), env.client("dynamodb"), env.client("sqs")) as calls:
        assert not run_job(env, "analysis", datetime(2026, 3, 16, 13, 30, tzinfo=UTC)).ran
    assert calls.by_operation() == {"ExecuteStatement": 3}  # the outbox (empty), the claim that found the row, the row

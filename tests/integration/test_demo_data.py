"""``make dev``'s demo set: generated bars stored as source 'demo', never over real bars, and every analysis made
from them labelled DEMO DATA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.demo import DEMO_DAYS, DEMO_SYMBOLS, demo_bars, load_demo
from local.stack import LocalStack
from tests.integration.jobs_fixtures import new_world
from ttai.jobs import run_job


def test_the_demo_set_is_labelled_wherever_it_shows(stack: LocalStack) -> None:
    world = new_world(stack)
    user = world.user("dev")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    real_day = demo_bars(yesterday).bars[-1].date
    world.sql(
        "INSERT INTO bars (symbol, date, open, high, low, close, volume, source) "
        "VALUES ('AAPL', ?, 1, 1, 1, 1, 1, 'feed')",
        real_day,
    )

    offered = load_demo(world.db, user)

    assert offered == len(DEMO_SYMBOLS) * DEMO_DAYS
    sources = world.sql("SELECT source, count(*) AS n FROM bars GROUP BY source ORDER BY source")
    assert sources == [{"source": "demo", "n": offered - 1}, {"source": "feed", "n": 1}]  # the real bar stayed
    watchlist = world.sql("SELECT symbols, description FROM watchlists WHERE user_id = ?", user)[0]
    assert watchlist["symbols"] == list(DEMO_SYMBOLS)
    assert "DEMO DATA" in watchlist["description"]

    # The last weekday before today, whose bars the demo set holds: the analysis, then that day's reports.
    day = datetime.now(UTC).date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    at = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC)
    run = run_job(world.env, "analysis", at, trigger="manual")

    assert run.status == "success"
    results = world.sql("SELECT symbol, reasoning, technical_data FROM analysis_results WHERE execution_id = ?", run.id)
    assert len(results) == len(DEMO_SYMBOLS)
    assert all(r["reasoning"].startswith("[DEMO DATA] ") for r in results)
    assert all(r["technical_data"]["demo_data"] is True for r in results)
    report = world.sql("SELECT summary FROM report_snapshots WHERE execution_id = ?", run.id)[0]
    assert "DEMO DATA for AAPL, MSFT, SPY, TSLA" in report["summary"]
    messages = world.messages("ANALYSIS_QUEUE")
    assert len(messages) == len(DEMO_SYMBOLS)
    assert all(m["recommendation"].startswith("[DEMO DATA] ") for m in messages)

    for job_type, hour in (("pre-market", 15), ("weekly", 21)):
        later = run_job(world.env, job_type, at.replace(hour=hour), trigger="manual")
        assert later.execution.metadata["demo_data"] == sorted(DEMO_SYMBOLS), job_type
        summary = world.sql("SELECT summary FROM report_snapshots WHERE execution_id = ?", later.id)[0]["summary"]
        assert summary.endswith("DEMO DATA for AAPL, MSFT, SPY, TSLA"), job_type

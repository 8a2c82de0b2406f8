"""The portfolio monitor: started by its user's subscription, it marks their open positions to the cache and pushes
them every minute of the trading session, and sets no alarm outside it (the jobs' New York calendar)."""

from __future__ import annotations

from datetime import UTC, datetime

from local.realtime import LocalRealtime
from local.stack import LocalStack
from tests.conftest import Clock
from tests.integration.realtime.conftest import client, nothing_more, receive, subscribe
from ttai.services.cache import CacheService

# Tuesday 10 March 2026, 10:31 in New York (EDT, UTC-4): a trading day, the session open.
SESSION = datetime(2026, 3, 10, 14, 31, 0, tzinfo=UTC)
AFTER_THE_CLOSE = datetime(2026, 3, 10, 20, 0, 5, tzinfo=UTC)  # 16:00:05
SATURDAY = datetime(2026, 3, 14, 15, 0, 0, tzinfo=UTC)
GOOD_FRIDAY = datetime(2026, 4, 3, 15, 0, 0, tzinfo=UTC)  # an NYSE holiday on a weekday


def hold(stack: LocalStack, token: str, *positions: tuple[str, int, str, float]) -> None:
    body = {
        "positions": [
            {"symbol": s, "quantity": q, "direction": d, "average_cost": c, "position_type": "stock"}
            for s, q, d, c in positions
        ]
    }
    status, _, synced = stack.http("PUT", "/api/v1/positions", token=token, json=body)
    assert status == 200, synced


def test_during_the_session_the_monitor_pushes_marks_every_minute_and_stops_at_the_close(
    stack: LocalStack, realtime: LocalRealtime, user: str, clock: Clock
) -> None:
    clock.now = SESSION.timestamp()
    long_symbol, short_symbol, unquoted = (f"M{user[-4:].upper()}", f"N{user[-4:].upper()}", f"U{user[-4:].upper()}")
    hold(
        stack,
        stack.token_for(user),
        (long_symbol, 10, "long", 100.0),
        (short_symbol, 5, "short", 50.0),
        (unquoted, 1, "long", 1.0),
    )
    cache = CacheService(stack.env.KV)
    cache.set_quotes(
        {
            long_symbol: {"symbol": long_symbol, "last": 110.0, "updated_at": SESSION.isoformat()},
            short_symbol: {"symbol": short_symbol, "last": 40.0, "updated_at": SESSION.isoformat()},
        }
    )
    monitor = realtime.host.namespace("PORTFOLIO_MONITOR").get_by_name(user)
    with client(realtime, user) as ws:
        subscribe(ws, f"user:{user}")  # starts the monitor
        assert monitor.next_run() == int(SESSION.timestamp() * 1000)
        # "replaced": the run armed the next one itself.
        assert [a["outcome"] for a in realtime.alarms.run_due()] == ["replaced"]
        frame = receive(ws)
        assert frame["channel"] == f"user:{user}"
        pushed = frame["data"]
        assert pushed["type"] == "portfolio"
        marks = {p["symbol"]: (p["mark"], p["market_value"], p["unrealized_pnl"]) for p in pushed["positions"]}
        assert marks == {
            long_symbol: (110.0, 1100.0, 100.0),
            short_symbol: (40.0, -200.0, 50.0),
            unquoted: (None, None, None),
        }
        assert (pushed["market_value"], pushed["unrealized_pnl"]) == (900.0, 150.0)
        assert monitor.next_run() == int(SESSION.timestamp() * 1000) + 60_000

        clock.travel(60)  # quotes live 60 s in the hot tier: the feed has sent new ones meanwhile
        cache.set_quotes(
            {
                long_symbol: {"symbol": long_symbol, "last": 120.0, "updated_at": SESSION.isoformat()},
                short_symbol: {"symbol": short_symbol, "last": 40.0, "updated_at": SESSION.isoformat()},
            }
        )
        assert [a["outcome"] for a in realtime.alarms.run_due()] == ["replaced"]
        assert receive(ws)["data"]["unrealized_pnl"] == 250.0

        clock.now = AFTER_THE_CLOSE.timestamp()
        assert [a["outcome"] for a in realtime.alarms.run_due()] == ["ran"]
        assert monitor.next_run() is None, "an alarm was set after the close"
        assert nothing_more(ws)


def test_outside_the_session_subscribing_sets_no_alarm(
    stack: LocalStack, realtime: LocalRealtime, user: str, clock: Clock
) -> None:
    monitor = realtime.host.namespace("PORTFOLIO_MONITOR").get_by_name(user)
    for moment in (SATURDAY, GOOD_FRIDAY, datetime(2026, 3, 10, 13, 29, 59, tzinfo=UTC)):  # 09:29:59
        clock.now = moment.timestamp()
        with client(realtime, user) as ws:
            subscribe(ws, f"user:{user}")
            assert monitor.next_run() is None, moment
            assert realtime.alarms.due() == []

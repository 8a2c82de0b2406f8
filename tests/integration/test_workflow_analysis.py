"""AnalysisWorkflow on the SDK's local runner against the stack: bars read, analyses stored and cached, one
announcement, a symbol that keeps failing reported while the rest complete."""

from __future__ import annotations

import random
import string
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from local.stack import LocalStack
from local.workflows import LocalWorkflows
from tests.integration.jobs_fixtures import JobWorld, zigzag
from ttai.jobs.data import Close, recent_closes
from ttai.services.cache import CacheKeys
from ttai.workflows import analysis

FRIDAY = date(2026, 3, 6)  # the last bar; the virtual clock starts on Monday 2026-03-09, 13:30 UTC


def _symbols(count: int) -> list[str]:
    return ["W" + "".join(random.choices(string.ascii_uppercase, k=4)) for _ in range(count)]


def _user(stack: LocalStack) -> tuple[str, str]:
    """A signed-in user who is told on Discord; their id and webhook."""
    assert stack.discord is not None
    user = f"analyst-{uuid.uuid4().hex[:8]}"
    stack.token_for(user)
    webhook = stack.discord.new_webhook()
    stack.env.DB.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, ["discord"], webhook).run()
    return user, webhook


def _bars(stack: LocalStack, symbols: Sequence[str], count: int = 60) -> None:
    world = JobWorld(stack, stack.env, stack.env.DB, stack.queue_urls)
    for n, symbol in enumerate(symbols):
        world.bars(symbol, zigzag(100.0 + n, 3.0, 2.0, count), FRIDAY)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Counts the bar reads per symbol; ``failing[symbol] = n`` makes that symbol's next n reads fail."""
    state: dict[str, Any] = {"calls": Counter(), "failing": Counter()}
    real = recent_closes

    def read(db: Any, symbols: Sequence[str], up_to: date, count: int) -> dict[str, list[Close]]:
        for symbol in symbols:
            state["calls"][symbol] += 1
            if state["failing"][symbol] > 0:
                state["failing"][symbol] -= 1
                raise ConnectionError(f"the Data API did not answer while reading {symbol}")
        return real(db, symbols, up_to, count)

    monkeypatch.setattr(analysis, "recent_closes", read)
    return state


def _announced(stack: LocalStack, webhook: str) -> list[dict[str, Any]]:
    stack.poller.drain()
    assert stack.discord is not None
    return [d.payload for d in stack.discord.deliveries(webhook)]


def test_a_third_symbol_failing_twice_completes_with_five_analyses_and_one_announcement(
    stack: LocalStack, ttai_workflows: LocalWorkflows, reads: dict[str, Any]
) -> None:
    stack.poller.drain()
    user, webhook = _user(stack)
    symbols = _symbols(5)
    _bars(stack, symbols)
    reads["failing"][symbols[2]] = 2

    instance = ttai_workflows.binding("ANALYSIS_WORKFLOW").create(
        id=f"analysis-{uuid.uuid4().hex}", params={"user": user, "symbols": symbols}
    )
    status = ttai_workflows.wait_for(instance, "complete", "errored", timeout=60)

    assert status["status"] == "complete", status
    output = status["output"]
    assert [a["symbol"] for a in output["analyses"]] == symbols
    assert output["failed"] == {}
    assert output["market_date"] == "2026-03-09"
    # Each symbol's bars were read once, the third's three times: its two failures were retried, nothing replayed.
    assert reads["calls"] == Counter({**dict.fromkeys(symbols, 1), symbols[2]: 3})
    rows = (
        stack.env.DB.prepare("SELECT symbol, type, recommendation, result FROM analyses WHERE workflow_id = ?")
        .bind(instance.id)
        .all()
        .results
    )
    assert sorted(r["symbol"] for r in rows) == sorted(symbols)
    assert {r["type"] for r in rows} == {"chart"}
    assert {r["recommendation"] for r in rows} <= {"select", "reject", "neutral"}
    assert all(r["result"]["technical_data"]["as_of"] == FRIDAY.isoformat() for r in rows)
    cached = stack.env.KV.get([CacheKeys.user_analysis(user, s) for s in symbols], "json")
    assert all(value is not None and value["workflow_id"] == instance.id for value in cached.values())

    (told,) = _announced(stack, webhook)  # one fan-out for the whole analysis
    assert told["content"] == "Analysis Complete: 5 symbols"
    assert _announced(stack, webhook) == [told]


def test_a_symbol_that_keeps_failing_or_has_too_few_bars_is_reported_and_the_rest_complete(
    stack: LocalStack, ttai_workflows: LocalWorkflows, reads: dict[str, Any]
) -> None:
    user, _ = _user(stack)
    good, short, broken = _symbols(3)
    _bars(stack, [good, broken])
    _bars(stack, [short], count=30)
    reads["failing"][broken] = 100

    instance = ttai_workflows.binding("ANALYSIS_WORKFLOW").create(
        id=f"analysis-{uuid.uuid4().hex}", params={"user": user, "symbols": [good, short, broken]}
    )
    status = ttai_workflows.wait_for(instance, "complete", "errored", timeout=60)

    assert status["status"] == "complete", status
    assert [a["symbol"] for a in status["output"]["analyses"]] == [good]
    assert status["output"]["failed"] == {
        short: "needs at least 50 daily bars, has 30",
        broken: f"ConnectionError: the Data API did not answer while reading {broken}",
    }
    assert reads["calls"][broken] == 5  # the first attempt and IO_STEP's four retries
    stored = stack.env.DB.prepare("SELECT symbol FROM analyses WHERE workflow_id = ?").bind(instance.id).all()
    assert [r["symbol"] for r in stored.results] == [good]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"user": "u-1", "symbols": []}, "symbols"),
        ({"user": "u-1", "symbols": ["NOT A SYMBOL"]}, "symbols.0"),
        ({"user": "u-1", "symbols": ["AAPL"], "extra": 1}, "extra"),
        ({"symbols": ["AAPL"]}, "user"),
    ],
)
def test_params_it_cannot_take_error_the_instance_without_retries(
    ttai_workflows: LocalWorkflows, params: dict[str, Any], problem: str
) -> None:
    instance = ttai_workflows.binding("ANALYSIS_WORKFLOW").create(params=params)

    status = ttai_workflows.wait_for(instance, "errored", "complete")

    assert status["error"]["name"] == "InvalidParams"
    assert f"{problem}:" in status["error"]["message"]

"""Workflows through the HTTP API: an analysis run (202, its status for its owner only, its results and one
announcement), as the stack's local runner plays each workflow's durable function."""

from __future__ import annotations

import random
import string
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.conftest import finished_run
from tests.integration.jobs_fixtures import JobWorld, zigzag
from ttai.jobs.data import Close, recent_closes
from ttai.workflows import analysis


def _symbols(count: int) -> list[str]:
    return ["V" + "".join(random.choices(string.ascii_uppercase, k=4)) for _ in range(count)]


def _analyst(stack: LocalStack) -> tuple[str, str, str]:
    """A signed-in user told on Discord: id, token, webhook."""
    assert stack.discord is not None
    user = f"analyst-{uuid.uuid4().hex[:8]}"
    token = stack.token_for(user)
    webhook = stack.discord.new_webhook()
    stack.env.DB.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, ["discord"], webhook).run()
    return user, token, webhook


def _bars(stack: LocalStack, symbols: Sequence[str]) -> None:
    world = JobWorld(stack, stack.env, stack.env.DB, stack.queue_urls)
    today = datetime.now(UTC).date()
    for n, symbol in enumerate(symbols):
        world.bars(symbol, zigzag(50.0 + n, 2.0, 1.0, 60), today)


def test_an_analysis_through_the_api_whose_third_bar_read_fails_twice_completes_and_is_announced_once(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.poller.drain()
    _, token, webhook = _analyst(stack)
    symbols = _symbols(5)
    _bars(stack, symbols)
    reads: Counter[str] = Counter()

    def flaky(db: Any, wanted: Sequence[str], up_to: date, count: int) -> dict[str, list[Close]]:
        (symbol,) = wanted
        reads[symbol] += 1
        if symbol == symbols[2] and reads[symbol] <= 2:
            raise ConnectionError("the Data API did not answer")
        return recent_closes(db, wanted, up_to, count)

    monkeypatch.setattr(analysis, "recent_closes", flaky)

    started = stack.http("POST", "/api/v1/analyses/run", token=token, json={"symbols": symbols})
    assert started.status == 202, started.body
    assert started.body["workflow"] == "analysis"
    run = finished_run(stack, token, started.body["id"])

    assert run["status"] == "complete", run
    assert [a["symbol"] for a in run["output"]["analyses"]] == symbols
    assert run["output"]["failed"] == {}
    assert reads[symbols[2]] == 3
    listed = stack.http("GET", "/api/v1/analyses", token=token).body["items"]
    assert sorted(a["symbol"] for a in listed if a["workflow_id"] == started.body["id"]) == sorted(symbols)
    stack.poller.drain()
    assert stack.discord is not None
    told = [d.payload for d in stack.discord.deliveries(webhook)]
    assert [t["content"] for t in told] == ["Analysis Complete: 5 symbols"]  # one fan-out for the run


def test_a_run_is_its_owners_alone(stack: LocalStack, alice: str, bob: str) -> None:
    started = stack.http("POST", "/api/v1/analyses/run", token=alice, json={"symbols": _symbols(1)})
    assert started.status == 202, started.body
    run_id = started.body["id"]

    assert finished_run(stack, alice, run_id)["output"]["failed"]  # no bars: reported, not an error
    assert stack.http("GET", f"/api/v1/workflows/{run_id}", token=bob).status == 404
    assert stack.http("GET", f"/api/v1/workflows/analysis-{uuid.uuid4().hex}", token=alice).status == 404
    assert stack.http("GET", "/api/v1/workflows/x", token=alice).status == 404


@pytest.mark.parametrize(
    "body",
    [{"symbols": []}, {"symbols": ["NOT A SYMBOL"]}, {"symbols": ["AAPL"] * 501}, {"symbols": ["AAPL"], "user": "x"}],
)
def test_a_bad_analysis_request_is_a_422_and_starts_nothing(
    stack: LocalStack, alice: str, body: dict[str, Any]
) -> None:
    response = stack.http("POST", "/api/v1/analyses/run", token=alice, json=body)

    assert response.status == 422, response.body
    uid = stack.http("GET", "/api/v1/me", token=alice).body["id"]
    runs = stack.env.DB.prepare("SELECT count(*) AS n FROM workflow_runs WHERE user_id = ?").bind(uid).first("n")
    assert runs == 0

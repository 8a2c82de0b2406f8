"""ScreenerWorkflow on the SDK's local runner against the stack: the run a queued task makes, made in steps that
survive a failure and a new process."""

from __future__ import annotations

import random
import string
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from local.workflows import LocalWorkflows, VirtualClock
from ttai.bindings.workflows.backend import BucketBlobs
from ttai.services.screeners import runs as screener_runs
from ttai.workflows.screener import ScreenerWorkflow


def _user(stack: LocalStack) -> tuple[str, str, str]:
    """A signed-in user told on Discord: id, token, webhook."""
    assert stack.discord is not None
    user = f"screens-{uuid.uuid4().hex[:8]}"
    token = stack.token_for(user)
    webhook = stack.discord.new_webhook()
    stack.env.DB.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, ["discord"], webhook).run()
    return user, token, webhook


def _screener(stack: LocalStack, token: str, user: str) -> int:
    """A screener over three quoted symbols, two of them over its minimum price."""
    cheap, mid, rich = ("Z" + "".join(random.choices(string.ascii_uppercase, k=4)) for _ in range(3))
    service = stack.token_for("quote-streamer", scopes=("service",))
    quotes = [
        {"symbol": s, "last": last, "volume": 1_000, "updated_at": "2026-11-20T15:00:00-05:00"}
        for s, last in ((cheap, 5.0), (mid, 50.0), (rich, 500.0))
    ]
    assert stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": quotes}).status == 200
    body = {"type": "stock", "criteria": {"symbols": [cheap, mid, rich], "min_price": 10}}
    assert stack.http("PUT", "/api/v1/screeners/value", token=token, json=body).status == 200
    found = stack.env.DB.prepare("SELECT id FROM screeners WHERE user_id = ? AND name = 'value'").bind(user).first()
    assert found is not None
    return int(found["id"])


def _run(stack: LocalStack, key: str) -> dict[str, Any]:
    row: dict[str, Any] | None = (
        stack.env.DB.prepare("SELECT * FROM screener_results WHERE message_id = ?").bind(key).first()
    )
    assert row is not None
    return row


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts evaluations and stores; ``faults["store fails"] = n`` fails the next n stores."""
    counts: Counter[str] = Counter()
    evaluate, store = screener_runs.evaluate, screener_runs.store

    def counted_evaluate(*args: Any) -> Any:
        counts["evaluate"] += 1
        return evaluate(*args)

    def failing_store(*args: Any) -> Any:
        counts["store"] += 1
        if counts["store fails"] > 0:
            counts["store fails"] -= 1
            raise ConnectionError("the Data API did not answer")
        return store(*args)

    monkeypatch.setattr(screener_runs, "evaluate", counted_evaluate)
    monkeypatch.setattr(screener_runs, "store", failing_store)
    return counts


def test_a_workflow_run_stores_and_announces_what_the_queued_task_does(
    stack: LocalStack, ttai_workflows: LocalWorkflows
) -> None:
    stack.poller.drain()
    user, token, webhook = _user(stack)
    screener_id = _screener(stack, token, user)
    task_id = f"task-{uuid.uuid4().hex}"
    task = {"type": "screener_run", "id": task_id, "userId": user, "screenerId": screener_id}
    stack.env.TASK_QUEUE.send(task)
    stack.poller.drain()

    instance = ttai_workflows.binding("SCREENER_WORKFLOW").create(
        id=f"screener-{uuid.uuid4().hex}", params={"user": user, "screener_id": screener_id}
    )
    status = ttai_workflows.wait_for(instance, "complete", "errored", timeout=30)
    stack.poller.drain()

    assert status["status"] == "complete", status
    by_task, by_workflow = _run(stack, task_id), _run(stack, instance.id)
    assert status["output"] == {
        "screener_id": screener_id,
        "run_id": by_workflow["id"],
        "candidates_found": 2,
        "announced": f"{instance.id}:complete",
    }
    assert by_workflow["results"] == by_task["results"]
    assert by_workflow["criteria"] == by_task["criteria"]
    assert stack.discord is not None
    told = [d.payload["content"] for d in stack.discord.deliveries(webhook)]
    assert told == ["Screener Complete: value", "Screener Complete: value"]  # the task's, then the workflow's


def test_a_store_that_fails_resumes_in_a_new_process_without_evaluating_again(
    stack: LocalStack, tmp_path: Path, faults: Counter[str]
) -> None:
    user, token, _ = _user(stack)
    screener_id = _screener(stack, token, user)
    faults["store fails"] = 1
    clock = VirtualClock(skip=False)
    first = LocalWorkflows(tmp_path, clock=clock, env=stack.env, blobs=BucketBlobs(stack.env.R2))
    instance = first.register("SCREENER_WORKFLOW", ScreenerWorkflow).create(
        id=f"screener-{uuid.uuid4().hex}", params={"user": user, "screener_id": screener_id}
    )
    first.wait_for(instance, "waiting")  # the store failed: its retry waits on the clock
    first.close()

    clock.advance(minutes=1)
    with LocalWorkflows(tmp_path, clock=clock, env=stack.env, blobs=BucketBlobs(stack.env.R2)) as second:
        resumed = second.register("SCREENER_WORKFLOW", ScreenerWorkflow).get(instance.id)
        status = second.wait_for(resumed, "complete", "errored", timeout=30)

    assert status["status"] == "complete", status
    assert (faults["evaluate"], faults["store"]) == (1, 2)
    assert _run(stack, instance.id)["candidates_found"] == 2


def test_a_deleted_screener_errors_the_instance_at_once(stack: LocalStack, ttai_workflows: LocalWorkflows) -> None:
    user, _, _ = _user(stack)

    instance = ttai_workflows.binding("SCREENER_WORKFLOW").create(params={"user": user, "screener_id": 10**12})
    status = ttai_workflows.wait_for(instance, "errored", "complete")

    assert status["error"] == {"name": "ScreenerNotFound", "message": f"screener {10**12} no longer exists"}

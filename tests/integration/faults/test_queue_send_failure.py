"""A queue send failing after a database change: a scheduled job's messages go through the jobs' transactional
outbox (ttai.jobs.outbox), staged by the statement that records the run as finished. SQS refusing the send
(moto, the refusal injected on SendMessageBatch) leaves the run recorded with its message waiting in the outbox,
nothing on the queue and nothing lost; the run retried (Lambda retrying the invocation) or any later run sends it,
once. A run that fails after deciding on messages sends none: no message without its change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws_faults import AwsFault
from local.stack import LocalStack
from tests.integration.jobs_fixtures import JobWorld, new_world
from ttai.jobs import JOBS, run_job
from ttai.jobs.base import JobContext, JobOutcome, JobSpec
from ttai.messages import Notification

MONDAY_1100 = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 11:00 New York: an intraday run
MONDAY_1200 = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)


@pytest.fixture
def world(faulty: LocalStack) -> JobWorld:
    """A database and queues of the test's own (the job's world), on the fault tests' stack."""
    return new_world(faulty)


def _waiting(world: JobWorld) -> list[tuple[str, str]]:
    return [(r["queue"], r["message_id"]) for r in world.sql("SELECT queue, message_id FROM outbox ORDER BY id")]


def _dte_alert(world: JobWorld, user_id: str) -> int:
    """An alert that fires whatever the market: days to an option's expiration below 100,000."""
    row = world.sql(
        "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold) "
        "VALUES (?, 'AAPL  260320C00150000', 'dte', 'below', 100000) RETURNING id",
        user_id,
    )
    return int(row[0]["id"])


def test_a_send_refused_after_the_run_is_recorded_leaves_the_message_waiting_and_a_retry_sends_it_once(
    world: JobWorld,
) -> None:
    alert = _dte_alert(world, world.user("alerted"))
    sqs = world.env.client("sqs")

    # Given SQS refuses every send while the intraday job runs,
    with AwsFault(sqs, "SendMessageBatch", "ServiceUnavailable", "Service Unavailable", status=503) as refused:
        run = run_job(world.env, "intraday", MONDAY_1100)
    assert refused.refused == 1

    # then the run is recorded as it went, its alert_triggered waits in the outbox, and none is on the queue.
    assert (run.status, run.execution.metadata["triggered"]) == ("success", [alert])
    [(queue, message_id)] = _waiting(world)
    assert queue == "ANALYSIS_QUEUE"
    assert world.messages("ANALYSIS_QUEUE") == []

    # When the invocation is retried (the run itself is not run again: it is recorded),
    again = run_job(world.env, "intraday", MONDAY_1100)
    assert not again.ran
    # then the waiting message goes out, once, and the outbox is empty.
    sent = world.messages("ANALYSIS_QUEUE")
    assert [(m["type"], m["id"], m["alertId"]) for m in sent] == [("alert_triggered", message_id, alert)]
    assert _waiting(world) == []
    run_job(world.env, "weekly", MONDAY_1200, trigger="manual")  # a later run finds nothing more to send
    assert world.messages("ANALYSIS_QUEUE") == []


def test_a_run_that_fails_after_deciding_on_messages_sends_none(
    world: JobWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = world.user("told")

    def decide_then_fail(ctx: JobContext) -> JobOutcome:
        ctx.send("NOTIFICATION_QUEUE", [Notification(user_id=user, channel="push", title="t", body="b")])
        raise RuntimeError("the job failed after deciding what to send")

    monkeypatch.setitem(JOBS, "weekly", JobSpec("weekly", decide_then_fail))
    with pytest.raises(RuntimeError, match="after deciding"):
        run_job(world.env, "weekly", MONDAY_1200, trigger="manual")

    [row] = world.sql("SELECT status FROM job_executions WHERE job_type = 'weekly'")
    assert row["status"] == "failure"
    assert _waiting(world) == []
    assert world.messages("NOTIFICATION_QUEUE") == []


def test_a_run_sends_its_messages_right_after_recording_itself(world: JobWorld) -> None:
    alert = _dte_alert(world, world.user("prompt"))
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    sqs, hook = world.env.client("sqs"), f"fault-sends-{uuid.uuid4().hex}"
    sqs.meta.events.register("before-call.sqs", record, unique_id=hook)
    try:
        run_job(world.env, "intraday", MONDAY_1100)
    finally:
        sqs.meta.events.unregister("before-call.sqs", record, unique_id=hook)
    assert calls.count("SendMessageBatch") == 1
    assert [m["alertId"] for m in world.messages("ANALYSIS_QUEUE")] == [alert]
    assert _waiting(world) == []

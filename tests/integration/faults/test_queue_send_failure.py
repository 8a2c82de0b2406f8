"""A queue send failing after a change, on each kind of producer; SQS's refusal is injected on the send (moto, a
botocore hook answering 503 as SQS does), everything else real.

- Scheduled jobs: their messages go through the jobs' transactional outbox (ttai.jobs.outbox), staged by the
  statement that records the run as finished. A refused send leaves the run recorded with its message waiting,
  nothing on the queue and nothing lost; the invocation retried (or any later run) sends it, once. A run that fails
  after deciding on messages sends none: no message without its change.
- Consumers: the change is keyed by the message id and the send comes after it, so the redelivery of the message
  finds the change made and sends what the first delivery could not, once.
- The API (a knowledge document and its indexing task): a refused send takes the stored document back before the
  503, so the retried request stores and queues it once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws_faults import AwsFault
from local.stack import LocalStack
from tests.integration.jobs_fixtures import JobWorld, new_world
from ttai.env import Env
from ttai.jobs import JOBS, run_job
from ttai.jobs.base import JobContext, JobOutcome, JobSpec
from ttai.messages import AlertTriggered, Notification
from ttai.services.knowledge import PURPOSE
from ttai.tenant_keys import user_object_prefix

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


def test_a_send_aws_refuses_for_good_is_raised_after_the_run_is_recorded_and_its_messages_wait(
    world: JobWorld,
) -> None:
    alert = _dte_alert(world, world.user("misrouted"))
    # The analysis queue is gone (a deployment fault, not an outage): the error rises, for the function's alarm.
    gone = {**world.queue_urls, "ANALYSIS_QUEUE": world.queue_urls["ANALYSIS_QUEUE"] + "-missing"}
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        run_job(Env(world.env.settings._replace(queue_urls=gone)), "intraday", MONDAY_1100)
    [row] = world.sql("SELECT status, metadata FROM job_executions WHERE job_type = 'intraday'")
    assert row["status"] == "success"  # recorded before the send: the send is not the job's outcome
    [(queue, message_id)] = _waiting(world)

    assert not run_job(world.env, "intraday", MONDAY_1100).ran  # retried with the queue back
    assert [(m["id"], m["alertId"]) for m in world.messages(queue)] == [(message_id, alert)]
    assert _waiting(world) == []


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


def test_a_consumer_whose_send_fails_after_its_change_completes_it_once_on_redelivery(faulty: LocalStack) -> None:
    sink = faulty.discord
    assert sink is not None
    faulty.poller.drain()  # nothing an earlier test left is this test's
    user = f"fault-{uuid.uuid4().hex[:8]}"
    faulty.token_for(user)
    webhook = sink.new_webhook()
    db = faulty.env.DB
    db.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, ["discord"], webhook).run()
    alert = (
        db.prepare(
            "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold) "
            "VALUES (?, 'AAPL', 'price', 'above', 200) RETURNING id"
        )
        .bind(user)
        .first("id")
    )
    message = AlertTriggered(
        user_id=user, alert_id=alert, symbol="AAPL", condition="price above 200", current_value=201
    )
    faulty.env.ANALYSIS_QUEUE.send(message.to_wire())

    def state() -> tuple[Any, Any, int]:
        status = db.prepare("SELECT status FROM alerts WHERE id = ?").bind(alert).first("status")
        events = db.prepare("SELECT count(*) AS n FROM alert_events WHERE message_id = ?").bind(message.id).first("n")
        return status, events, len(sink.deliveries(webhook))

    # Given SQS refuses the notification's send once the alert is marked and its event recorded,
    sqs = faulty.function_env("consumer").client("sqs")
    with AwsFault(sqs, "SendMessageBatch", "ServiceUnavailable", "Service Unavailable", status=503) as refused:
        first = faulty.poller.poll_once(bindings=["ANALYSIS_QUEUE"], skip_retry_delays=True)
    assert (refused.refused, first.failed) == (1, 1)
    # the change stands and the message comes back (its 5 s retry delay skipped),
    assert state() == ("triggered", 1, 0)
    faulty.poller.drain()
    # and its redelivery sends the notification, once, writing nothing twice.
    assert state() == ("triggered", 1, 1)


def test_an_api_write_whose_send_fails_keeps_nothing_and_its_retry_lands_once(faulty: LocalStack) -> None:
    user = f"fault-{uuid.uuid4().hex[:8]}"
    token = faulty.token_for(user)
    document = {"title": "Wheel strategy", "text": "Sell puts, then covered calls."}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    task_queue = faulty.poller.queue("TASK_QUEUE")
    faulty.poller.drain(bindings=["TASK_QUEUE"])

    def stored() -> list[str]:
        return [o.key for o in faulty.env.R2.list(prefix=user_object_prefix(PURPOSE, user)).objects]

    sqs = faulty.function_env("api").client("sqs")
    with AwsFault(sqs, "SendMessage", "ServiceUnavailable", "Service Unavailable", status=503) as refused:
        status, _, body = faulty.http("POST", "/api/v1/knowledge", token=token, json=document, headers=headers)
    assert refused.refused == 1
    assert (status, body["error"]["message"]) == (503, "the queue is unavailable; retry in 5 seconds")
    assert stored() == []  # the document went with its task
    assert faulty.poller.depth(task_queue) == 0

    status, _, body = faulty.http("POST", "/api/v1/knowledge", token=token, json=document, headers=headers)
    assert status == 202
    assert stored() == [f"{user_object_prefix(PURPOSE, user)}{body['document_id']}.json"]
    assert faulty.poller.depth(task_queue) == 1
    faulty.poller.drain(bindings=["TASK_QUEUE"])  # indexed, so the next test finds the queue empty

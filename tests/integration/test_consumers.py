"""The consumer function end to end: messages sent to moto's SQS, delivered by the local poller as real SQS events,
effects in PostgreSQL, notifications at the Discord sink, moto's SES outbox and the SNS topic.

Every message type is delivered twice (a producer's duplicate send: same ``id``, two SQS messages) and must take
effect once.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from local.account import REGION
from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.conftest import finished_run
from ttai.bindings.queues import Queue, QueueSendError
from ttai.messages import (
    AlertTriggered,
    AnalysisComplete,
    AnyMessage,
    JobRunRequested,
    Notification,
    ScreenerComplete,
)


class Recipient(NamedTuple):
    id: str
    token: str
    email: str
    webhook: str


@pytest.fixture(autouse=True)
def _empty_queues(stack: LocalStack) -> None:
    stack.settle()  # asynchronous hand-offs an earlier test started (quotes to the realtime function) finish first
    stack.poller.drain()  # whatever an earlier test left behind is not this test's


def recipient(stack: LocalStack, channels: list[str], name: str = "alice") -> Recipient:
    """A signed-in user with an email address, a Discord webhook on the sink, and these preferred channels."""
    assert stack.discord is not None
    user = f"{name}-{uuid.uuid4().hex[:8]}"
    token = stack.token_for(user)
    email = f"{user}@example.com"
    webhook = stack.discord.new_webhook()
    db = stack.env.DB
    db.prepare("UPDATE users SET email = ? WHERE id = ?").bind(email, user).run()
    db.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, channels, webhook).run()
    return Recipient(user, token, email, webhook)


def send_twice(stack: LocalStack, binding: str, message: AnyMessage) -> None:
    queue = stack.env.queue(binding)
    queue.send(message.to_wire())
    queue.send(message.to_wire())


def discord_messages(stack: LocalStack, who: Recipient) -> list[dict[str, Any]]:
    assert stack.discord is not None
    return [d.payload for d in stack.discord.deliveries(who.webhook)]


def emails(stack: LocalStack, who: Recipient) -> list[Any]:
    account = stack.environ["TTAI_PUSH_TOPIC_ARN"].split(":")[4]
    sent = ses_backends[account][REGION].sent_messages
    return [m for m in sent if who.email in m.destinations.get("ToAddresses", [])]


def pushes(stack: LocalStack, who: Recipient) -> list[str]:
    arn = stack.environ["TTAI_PUSH_TOPIC_ARN"]
    topic = sns_backends[arn.split(":")[4]][REGION].topics[arn]
    return [
        message
        for _, message, _, attributes, _ in topic.sent_notifications
        if (attributes or {}).get("user_id", {}).get("Value") == who.id
    ]


def dead_letters(stack: LocalStack, binding: str) -> list[dict[str, Any]]:
    """The messages in the queue's DLQ (looked at and left there)."""
    sqs = stack.client("sqs")
    found: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        response = sqs.receive_message(
            QueueUrl=stack.dlq_urls[binding], MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            found[message["MessageId"]] = message
    return list(found.values())


# ------------------------------------------------------------------------------------------ each type, twice


def test_analysis_complete_delivered_twice_tells_the_user_once_on_each_channel(stack: LocalStack) -> None:
    who = recipient(stack, ["discord", "email", "push"])
    send_twice(
        stack,
        "ANALYSIS_QUEUE",
        AnalysisComplete(user_id=who.id, symbol="AAPL", recommendation="select", workflow_id="wf-1"),
    )
    stack.poller.drain()
    (posted,) = discord_messages(stack, who)
    assert posted["content"] == "Analysis Complete: AAPL"
    assert posted["embeds"][0]["description"] == "Recommendation: select"
    (email,) = emails(stack, who)
    assert (email.subject, email.body, email.source) == (
        "Analysis Complete: AAPL",
        "Recommendation: select",
        stack.email_sender,
    )
    assert len(pushes(stack, who)) == 1


def test_analysis_complete_for_a_user_without_channels_tells_nobody(stack: LocalStack) -> None:
    who = recipient(stack, [])
    send_twice(
        stack, "ANALYSIS_QUEUE", AnalysisComplete(user_id=who.id, symbol="MSFT", recommendation="x", workflow_id="w")
    )
    report = stack.poller.drain()
    assert report.failed == 0
    assert (discord_messages(stack, who), emails(stack, who), pushes(stack, who)) == ([], [], [])


# A ticker of the alert tests' own: alerts left active must not fire in other tests' runs of the intraday job.
ALERTED = "QALRT"


def create_alert(stack: LocalStack, who: Recipient, **fields: Any) -> int:
    body = {"symbol": ALERTED, "alert_type": "price", "condition": "above", "threshold": "200", **fields}
    status, _, alert = stack.http("POST", "/api/v1/alerts", token=who.token, json=body)
    assert status == 201, alert
    return int(alert["id"])


def alert_state(stack: LocalStack, alert_id: int) -> tuple[str, int, int]:
    """(status, alert_events rows, alert.trigger audit events) of an alert."""
    row = (
        stack.env.DB.prepare(
            """SELECT a.status,
                      (SELECT count(*) FROM alert_events e WHERE e.alert_id = a.id) AS events,
                      (SELECT count(*) FROM audit_events x
                       WHERE x.action = 'alert.trigger' AND x.entity_id = a.id::text) AS audited
               FROM alerts a WHERE a.id = ?"""
        )
        .bind(alert_id)
        .first()
    )
    assert row is not None
    return row["status"], row["events"], row["audited"]


def test_alert_triggered_delivered_twice_fires_the_alert_once(stack: LocalStack) -> None:
    who = recipient(stack, ["email"])
    alert_id = create_alert(stack, who, channels=["discord"])  # the alert's channels beat the user's
    message = AlertTriggered(user_id=who.id, alert_id=alert_id, symbol=ALERTED, condition="above", current_value=201.5)
    send_twice(stack, "ANALYSIS_QUEUE", message)
    stack.poller.drain()
    assert alert_state(stack, alert_id) == ("triggered", 1, 1)
    event = stack.env.DB.prepare("SELECT * FROM alert_events WHERE alert_id = ?").bind(alert_id).first()
    assert event is not None
    assert (event["message_id"], event["channels_notified"], float(event["current_value"])) == (
        message.id,
        ["discord"],
        201.5,
    )
    (posted,) = discord_messages(stack, who)
    assert posted["content"] == f"Alert: {ALERTED} above"
    assert "now 201.5" in posted["embeds"][0]["description"]
    assert emails(stack, who) == []
    status, _, events = stack.http("GET", f"/api/v1/alerts/{alert_id}/events", token=who.token)
    assert status == 200
    assert len(events["items"]) == 1


def test_an_alert_without_channels_notifies_on_the_users_channels(stack: LocalStack) -> None:
    who = recipient(stack, ["push"])
    alert_id = create_alert(stack, who)
    stack.env.ANALYSIS_QUEUE.send(
        AlertTriggered(user_id=who.id, alert_id=alert_id, symbol=ALERTED, condition="above", current_value=1).to_wire()
    )
    stack.poller.drain()
    assert alert_state(stack, alert_id) == ("triggered", 1, 1)
    assert len(pushes(stack, who)) == 1


def test_a_retry_after_the_notification_send_failed_writes_nothing_twice(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = recipient(stack, ["discord"])
    alert_id = create_alert(stack, who)
    real_send_batch = Queue.send_batch
    failures = [QueueSendError("SQS refused 1 of 1 messages: #0: ServiceUnavailable", {0: "ServiceUnavailable"})]

    def flaky(self: Queue, *args: Any, **kwargs: Any) -> list[str]:
        if failures:
            raise failures.pop()  # the first fan-out fails after the alert fired and its event was written
        return real_send_batch(self, *args, **kwargs)

    monkeypatch.setattr(Queue, "send_batch", flaky)
    fired = AlertTriggered(user_id=who.id, alert_id=alert_id, symbol=ALERTED, condition="above", current_value=250)
    stack.env.ANALYSIS_QUEUE.send(fired.to_wire())
    report = stack.poller.drain(skip_retry_delays=True)
    assert failures == []
    assert report.failed == 1  # the first delivery was retried
    assert alert_state(stack, alert_id) == ("triggered", 1, 1)
    assert len(discord_messages(stack, who)) == 1


def test_an_alert_that_is_no_longer_active_does_not_fire(stack: LocalStack) -> None:
    who = recipient(stack, ["discord"])
    alert_id = create_alert(stack, who)
    assert stack.http("DELETE", f"/api/v1/alerts/{alert_id}", token=who.token).status in {200, 204}
    stack.env.ANALYSIS_QUEUE.send(
        AlertTriggered(user_id=who.id, alert_id=alert_id, symbol=ALERTED, condition="above", current_value=1).to_wire()
    )
    report = stack.poller.drain()
    assert report.failed == 0  # acked: nothing to do is not a failure
    assert alert_state(stack, alert_id) == ("cancelled", 0, 0)
    assert discord_messages(stack, who) == []


def test_another_users_alert_cannot_be_fired_by_a_message_naming_it(stack: LocalStack) -> None:
    alice, bob = recipient(stack, ["discord"]), recipient(stack, ["discord"], "bob")
    alert_id = create_alert(stack, alice)
    stack.env.ANALYSIS_QUEUE.send(
        AlertTriggered(user_id=bob.id, alert_id=alert_id, symbol=ALERTED, condition="above", current_value=1).to_wire()
    )
    stack.poller.drain()
    assert alert_state(stack, alert_id) == ("active", 0, 0)
    assert discord_messages(stack, alice) == discord_messages(stack, bob) == []


def screener(stack: LocalStack, who: Recipient, name: str, criteria: dict[str, Any], **fields: Any) -> int:
    body = {"type": "stock", "criteria": criteria, **fields}
    status, _, created = stack.http("PUT", f"/api/v1/screeners/{name}", token=who.token, json=body)
    assert status == 200, created
    found = stack.env.DB.prepare("SELECT id FROM screeners WHERE user_id = ? AND name = ?").bind(who.id, name).first()
    assert found is not None
    return int(found["id"])


def test_screener_complete_delivered_twice_tells_the_count_once(stack: LocalStack) -> None:
    who = recipient(stack, ["discord"])
    screener_id = screener(stack, who, "momentum", {"min_price": 1}, notify_channels=["email"])
    send_twice(stack, "ANALYSIS_QUEUE", ScreenerComplete(user_id=who.id, screener_id=screener_id, result_count=3))
    stack.poller.drain()
    (email,) = emails(stack, who)  # the screener's channels beat the user's
    assert (email.subject, email.body) == ("Screener Complete: momentum", "3 candidates found")
    assert discord_messages(stack, who) == []


@pytest.mark.parametrize("channel", ["discord", "email", "push"])
def test_a_notification_delivered_twice_arrives_once(stack: LocalStack, channel: str) -> None:
    who = recipient(stack, [])
    send_twice(
        stack,
        "NOTIFICATION_QUEUE",
        Notification(user_id=who.id, channel=channel, title="Hello", body="once", data={"k": 1}),
    )
    stack.poller.drain()
    delivered = {"discord": discord_messages(stack, who), "email": emails(stack, who), "push": pushes(stack, who)}
    assert {c: len(d) for c, d in delivered.items()} == {c: int(c == channel) for c in delivered}


def test_the_idempotency_record_is_keyed_by_the_message_id_and_kept_a_day(stack: LocalStack) -> None:
    who = recipient(stack, [])
    message = Notification(user_id=who.id, channel="push", title="t", body="b")
    stack.env.NOTIFICATION_QUEUE.send(message.to_wire())
    sent_at = time.time()
    stack.poller.drain()
    spec = stack.layout.idempotency
    key = f"ttai-consumer#{hashlib.md5(json.dumps(message.id).encode()).hexdigest()}"  # noqa: S324 - Powertools' key
    item = stack.client("dynamodb").get_item(
        TableName=stack.environ["TTAI_IDEMPOTENCY_TABLE"], Key={spec.key_attr: {"S": key}}, ConsistentRead=True
    )["Item"]
    assert item["status"]["S"] == "COMPLETED"
    assert json.loads(item["data"]["S"])["delivered"] is True
    assert abs(int(item[spec.ttl_attr]["N"]) - (sent_at + spec.expires_after_seconds)) < 60


# ------------------------------------------------------------------------------------------ delivery failures


@pytest.mark.parametrize(("channel", "column"), [("email", "users.email"), ("discord", "discord_webhook_url")])
def test_a_notification_with_nowhere_to_go_is_acked_not_retried(stack: LocalStack, channel: str, column: str) -> None:
    who = recipient(stack, [])
    if column == "users.email":
        stack.env.DB.prepare("UPDATE users SET email = NULL WHERE id = ?").bind(who.id).run()
    else:
        stack.env.DB.prepare("UPDATE user_preferences SET discord_webhook_url = NULL WHERE user_id = ?").bind(
            who.id
        ).run()
    stack.env.NOTIFICATION_QUEUE.send(Notification(user_id=who.id, channel=channel, title="t", body="b").to_wire())
    report = stack.poller.drain()
    assert (report.records, report.failed, report.deleted) == (1, 0, 1)
    assert (discord_messages(stack, who), emails(stack, who)) == ([], [])


def hidden_for(stack: LocalStack, binding: str) -> tuple[str, str]:
    """(visible, in flight) messages of a queue, as SQS counts them."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_urls[binding],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]


def test_a_discord_endpoint_that_fails_twice_and_then_succeeds_receives_exactly_one_notification(
    stack: LocalStack,
) -> None:
    assert stack.discord is not None
    who = recipient(stack, [])
    stack.discord.fail_next(2, 500)
    before = stack.discord.attempts
    stack.env.NOTIFICATION_QUEUE.send(Notification(user_id=who.id, channel="discord", title="t", body="b").to_wire())
    first = stack.poller.poll_once(bindings=["NOTIFICATION_QUEUE"])
    assert first.failed == 1
    assert hidden_for(stack, "NOTIFICATION_QUEUE") == ("0", "1")  # backing off (5 s), not back at once
    report = stack.poller.drain(skip_retry_delays=True)  # the backoff's seconds skipped, its attempts counted
    assert stack.discord.attempts - before == 3
    assert len(discord_messages(stack, who)) == 1
    assert (report.records, report.failed, report.deleted) == (2, 1, 1)
    assert all(who.id not in m["Body"] for m in dead_letters(stack, "NOTIFICATION_QUEUE"))


def test_a_discord_endpoint_that_keeps_failing_sends_the_notification_to_the_dlq(stack: LocalStack) -> None:
    assert stack.discord is not None
    who = recipient(stack, [])
    max_receives = stack.layout.queue("NOTIFICATION_QUEUE").max_receive_count
    stack.discord.fail_next(max_receives + 5, 503)
    before = stack.discord.attempts
    message = Notification(user_id=who.id, channel="discord", title="t", body="b")
    stack.env.NOTIFICATION_QUEUE.send(message.to_wire())
    report = stack.poller.drain(skip_retry_delays=True)
    stack.discord.fail_next(0)
    assert (stack.discord.attempts - before, report.failed) == (max_receives, max_receives)
    assert discord_messages(stack, who) == []
    assert any(message.id in m["Body"] for m in dead_letters(stack, "NOTIFICATION_QUEUE"))


def test_a_rate_limited_delivery_waits_for_retry_after_before_it_is_tried_again(stack: LocalStack) -> None:
    assert stack.discord is not None
    who = recipient(stack, [])
    stack.discord.fail_next(1, 429, retry_after=2)
    stack.env.NOTIFICATION_QUEUE.send(Notification(user_id=who.id, channel="discord", title="t", body="b").to_wire())
    first = stack.poller.poll_once(bindings=["NOTIFICATION_QUEUE"])
    assert first.failed == 1
    queue = stack.poller.queue("NOTIFICATION_QUEUE")
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    # Hidden for Retry-After (2 s) rather than visible at once: an immediate poll finds nothing to deliver.
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "1",
    )
    assert stack.poller.poll_once(bindings=["NOTIFICATION_QUEUE"]).invocations == 0
    stack.poller.drain()
    assert len(discord_messages(stack, who)) == 1


def test_a_webhook_discord_refuses_is_not_retried(stack: LocalStack) -> None:
    assert stack.discord is not None
    who = recipient(stack, [])
    stack.discord.fail_next(1, 404)  # Discord's answer for a deleted webhook
    before = stack.discord.attempts
    stack.env.NOTIFICATION_QUEUE.send(Notification(user_id=who.id, channel="discord", title="t", body="b").to_wire())
    report = stack.poller.drain()
    assert (stack.discord.attempts - before, report.failed, report.deleted) == (1, 0, 1)
    assert discord_messages(stack, who) == []


def test_three_poison_messages_in_a_batch_of_ten_fail_alone_and_reach_the_dlq(stack: LocalStack) -> None:
    who = recipient(stack, [])
    valid = [Notification(user_id=who.id, channel="push", title=f"n{i}", body="b").to_wire() for i in range(7)]
    poison = [
        {"type": "notification", "id": f"bad-{uuid.uuid4().hex}", "userId": who.id},  # fields missing
        {"type": "carrier_pigeon", "id": f"odd-{uuid.uuid4().hex}", "userId": who.id},  # no such type
        f"not json at all, bad-{uuid.uuid4().hex}",  # a text body where a message must be JSON
    ]
    batch = [{"body": b} for b in valid[:3]] + [{"body": poison[0]}] + [{"body": b} for b in valid[3:5]]
    batch += [{"body": poison[1]}, {"body": valid[5]}, {"body": poison[2], "content_type": "text"}, {"body": valid[6]}]
    stack.env.NOTIFICATION_QUEUE.send_batch(batch)
    first = stack.poller.poll_once(bindings=["NOTIFICATION_QUEUE"])
    assert (first.invocations, first.records, first.failed, first.deleted) == (1, 10, 3, 7)
    report = stack.poller.drain()
    max_receives = stack.layout.queue("NOTIFICATION_QUEUE").max_receive_count
    assert (report.failed, report.deleted) == (3 * (max_receives - 1), 0)
    assert sorted(m.split('"title": "')[1].split('"')[0] for m in pushes(stack, who)) == [f"n{i}" for i in range(7)]
    dead = [m["Body"] for m in dead_letters(stack, "NOTIFICATION_QUEUE")]
    for bad in poison:
        marker = bad["id"] if isinstance(bad, dict) else bad
        assert len([body for body in dead if marker in body]) == 1


def test_a_job_run_delivered_twice_runs_the_job_once(stack: LocalStack) -> None:
    who = recipient(stack, [])
    # A scheduled time of its own (a whole second no other test asks for): run_job is idempotent per time too.
    at = datetime(2026, 11, 20, 17, tzinfo=UTC) + timedelta(seconds=random.randrange(10**6))
    task = JobRunRequested(user_id=who.id, job_type="weekly", scheduled_time=at)
    send_twice(stack, "TASK_QUEUE", task)
    stack.env.TASK_QUEUE.send(JobRunRequested(user_id=who.id, job_type="weekly", scheduled_time=at).to_wire())
    report = stack.poller.drain()
    assert report.failed == 0
    runs = stack.env.DB.prepare(
        "SELECT status, metadata FROM job_executions WHERE job_type = 'weekly' AND scheduled_time = ?"
    ).bind(at)
    (run,) = runs.all().results
    assert run["metadata"]["trigger"] == "manual"
    assert run["status"] in {"success", "partial"}


def test_a_job_run_of_an_unknown_type_ends_in_the_dlq(stack: LocalStack) -> None:
    who = recipient(stack, [])
    task = JobRunRequested(user_id=who.id, job_type="lunar-eclipse", scheduled_time=datetime(2026, 11, 20, tzinfo=UTC))
    stack.env.TASK_QUEUE.send(task.to_wire())
    report = stack.poller.drain(skip_retry_delays=True)
    assert report.failed == stack.layout.queue("TASK_QUEUE").max_receive_count
    assert any(task.id in m["Body"] for m in dead_letters(stack, "TASK_QUEUE"))


# ------------------------------------------------------------------------------------------ screener runs


def symbols(count: int) -> list[str]:
    """Tickers no other test uses (the quote cache is shared)."""
    return ["Q" + "".join(random.choices(string.ascii_uppercase, k=4)) for _ in range(count)]


def test_a_screener_run_is_started_evaluated_stored_and_announced(stack: LocalStack) -> None:
    who = recipient(stack, [])
    cheap, pricey, unloved, unquoted = symbols(4)
    service = stack.token_for("quote-streamer", scopes=("service",))
    quotes = [
        {"symbol": s, "last": last, "volume": 1_000_000, "updated_at": "2026-11-20T15:00:00-05:00"}
        for s, last in ((cheap, 20.0), (pricey, 250.0), (unloved, 300.0))
    ]
    assert stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": quotes}).status == 200
    for symbol, recommendation in ((pricey, "select"), (unloved, "reject"), (unquoted, "select")):
        body = {"symbol": symbol, "type": "chart", "result": {"score": 1}, "recommendation": recommendation}
        assert stack.http("POST", "/api/v1/analyses", token=who.token, json=body).status == 201
    watch = {"symbols": [cheap, pricey, unloved, unquoted]}
    assert stack.http("PUT", "/api/v1/watchlists/core", token=who.token, json=watch).status == 200
    criteria = {"watchlist": "core", "min_price": 100, "recommendation": ["select"]}
    screener_id = screener(stack, who, "quality", criteria, notify_channels=["discord"])

    status, _, started = stack.http("POST", "/api/v1/screeners/quality/run", token=who.token)
    assert status == 202, started
    assert (started["screener"], started["workflow"]) == ("quality", "screener")
    finished = finished_run(stack, who.token, started["id"])
    assert finished["status"] == "complete", finished
    stack.poller.drain()

    run = stack.env.DB.prepare("SELECT * FROM screener_results WHERE message_id = ?").bind(started["id"]).first()
    assert run is not None
    assert (run["user_id"], run["screener_id"], run["candidates_found"], run["criteria"]) == (
        who.id,
        screener_id,
        1,
        criteria,
    )
    (match,) = run["results"]
    assert (match["symbol"], match["last"], match["recommendation"]) == (pricey, 250.0, "select")
    (posted,) = discord_messages(stack, who)
    assert (posted["content"], posted["embeds"][0]["description"]) == (
        "Screener Complete: quality",
        "1 candidate found",
    )
    stored = stack.http("GET", "/api/v1/screeners/quality/results", token=who.token).body["items"]
    assert [r["id"] for r in stored] == [run["id"]]


def test_a_screener_run_delivered_twice_is_stored_and_announced_once(stack: LocalStack) -> None:
    who = recipient(stack, ["push"])
    screener_id = screener(stack, who, "all mine", {"symbols": symbols(2)})
    task = {"type": "screener_run", "id": f"run-{uuid.uuid4().hex}", "userId": who.id, "screenerId": screener_id}
    stack.env.TASK_QUEUE.send(task)
    stack.env.TASK_QUEUE.send(task)
    stack.poller.drain()
    rows = stack.env.DB.prepare("SELECT candidates_found FROM screener_results WHERE screener_id = ?").bind(screener_id)
    assert [r["candidates_found"] for r in rows.all().results] == [2]  # no criterion on quotes: both match
    assert len(pushes(stack, who)) == 1


def test_a_cash_secured_put_screen_runs_over_cached_chains_and_company_information(stack: LocalStack) -> None:
    who = recipient(stack, [])
    rich, poor = symbols(2)
    service = stack.token_for("quote-streamer", scopes=("service",))
    today = datetime.now(UTC).date()
    expiration = today + timedelta(days=30)
    for symbol, bid in ((rich, 2.4), (poor, 0.3)):
        contracts = [
            {
                "symbol": f"{symbol:<6}{expiration:%y%m%d}P00050000",  # OCC: root, expiration, right, strike
                "option_type": "put",
                "strike": 50.0,
                "expiration": expiration.isoformat(),
                "bid": bid,
                "delta": -0.22,
                "open_interest": 900,
            }
        ]
        chain = {"symbol": symbol, "contracts": contracts, "updated_at": "2026-11-20T15:00:00Z"}
        assert stack.http("PUT", "/api/v1/chains", token=service, json=chain).status == 200
        company = {"symbol": symbol, "name": symbol, "sector": "Technology", "updated_at": "2026-11-20T15:00:00Z"}
        assert stack.http("PUT", "/api/v1/company", token=service, json=company).status == 200
    criteria = {"symbols": [rich, poor], "sector": "technology", "max_dte": 45, "max_delta": 0.3, "min_premium": 1}
    screener(stack, who, "weekly csp", criteria)
    status, _, started = stack.http("POST", "/api/v1/screeners/weekly csp/run", token=who.token)
    assert status == 202, started
    assert finished_run(stack, who.token, started["id"])["status"] == "complete"
    run = stack.env.DB.prepare("SELECT * FROM screener_results WHERE message_id = ?").bind(started["id"]).first()
    assert run is not None
    (match,) = run["results"]
    assert (match["symbol"], match["sector"], match["puts_matching"]) == (rich, "Technology", 1)
    assert (match["best_put"]["bid"], match["best_put"]["strike"]) == (2.4, 50.0)


def runs_started(stack: LocalStack, who: Recipient) -> int:
    """Workflow runs the user has started (a refused run starts none)."""
    found = stack.env.DB.prepare("SELECT count(*) AS n FROM workflow_runs WHERE user_id = ?").bind(who.id).first("n")
    return int(found)


def test_bob_cannot_run_alices_screener(stack: LocalStack) -> None:
    alice, bob = recipient(stack, []), recipient(stack, [], "bob")
    screener(stack, alice, "private", {"min_price": 1})
    status, _, body = stack.http("POST", "/api/v1/screeners/private/run", token=bob.token)
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert runs_started(stack, bob) == 0
    assert stack.http("POST", "/api/v1/screeners/missing/run", token=alice.token).status == 404
    assert runs_started(stack, alice) == 0


def test_a_screener_whose_criteria_cannot_be_evaluated_is_refused_and_nothing_starts(stack: LocalStack) -> None:
    who = recipient(stack, [])
    screener(stack, who, "iv", {"min_iv_rank": 30, "min_price": 5})
    status, _, body = stack.http("POST", "/api/v1/screeners/iv/run", token=who.token)
    assert status == 422
    (field,) = body["error"]["fields"]
    assert field["field"] == "criteria"
    assert "min_iv_rank" in field["message"]
    assert runs_started(stack, who) == 0


# ------------------------------------------------------------------------------------------ AWS calls


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("push", {"PutItem": 1, "UpdateItem": 1, "Publish": 1}),
        ("email", {"PutItem": 1, "UpdateItem": 1, "ExecuteStatement": 1, "SendEmail": 1}),
        ("discord", {"PutItem": 1, "UpdateItem": 1, "ExecuteStatement": 1}),  # + one HTTPS POST to Discord
    ],
)
def test_one_notification_delivery_costs_an_idempotency_record_and_one_call_per_channel(
    stack: LocalStack, channel: str, expected: dict[str, int]
) -> None:
    who = recipient(stack, [])
    stack.env.NOTIFICATION_QUEUE.send(Notification(user_id=who.id, channel=channel, title="t", body="b").to_wire())
    env = stack.env
    clients = [env.client(s) for s in ("dynamodb", "rds-data", "ses", "sns", "sqs")]
    with CallCounter(*clients) as calls:
        stack.poller.drain()
    assert calls.by_operation() == expected

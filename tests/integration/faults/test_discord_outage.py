"""Discord failing for a long time, then recovering: the notification consumer backs off (each retry hides the
message longer: 5, 10, 20, 40 s), the notifications reach the DLQ after their retries (4 receives), and once Discord
is back the documented redrive (``ttai dlq redrive notifications``) delivers each exactly once; a second copy of a
delivered notification (a redrive repeated, a producer's resend) is acked without posting again, by the idempotency
record its first delivery left. Real parts: moto's SQS and its redrive policy, the consumer function fed SQS
events by the local poller, the local Discord stand-in answering 503 until told otherwise."""

from __future__ import annotations

import uuid
from typing import Any

from local.cli import main as ttai
from local.stack import LocalStack
from ttai.consumers.dispatch import BACKOFF, IDEMPOTENCY_KEY_PREFIX
from ttai.messages import Notification

USERS = 3


def _recipient(stack: LocalStack) -> tuple[str, str]:
    """A user whose notifications go to a webhook of their own on the Discord stand-in."""
    assert stack.discord is not None
    user = f"fault-{uuid.uuid4().hex[:8]}"
    stack.token_for(user)  # signing in makes the user's row
    webhook = stack.discord.new_webhook()
    stack.env.DB.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, ["discord"], webhook).run()
    return user, webhook


def _dead(stack: LocalStack) -> list[str]:
    """The bodies waiting in the notifications DLQ (looked at, left there)."""
    sqs = stack.client("sqs")
    found: dict[str, str] = {}
    for _ in range(3):
        response = sqs.receive_message(
            QueueUrl=stack.dlq_urls["NOTIFICATION_QUEUE"], MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        found.update((m["MessageId"], m["Body"]) for m in response.get("Messages", []))
    return list(found.values())


def test_discord_down_for_long_backs_off_dead_letters_and_a_redrive_delivers_each_notification_once(
    faulty: LocalStack,
) -> None:
    assert faulty.discord is not None
    faulty.poller.drain()  # nothing an earlier test left is this test's
    recipients = [_recipient(faulty) for _ in range(USERS)]
    notifications = [
        Notification(user_id=user, channel="discord", title="Alert: AAPL above 200", body="AAPL 201.5")
        for user, _ in recipients
    ]
    max_receives = faulty.layout.queue("NOTIFICATION_QUEUE").max_receive_count

    # Given Discord answers 503 to everything for as long as it takes,
    faulty.discord.fail_next(10**6, 503)
    attempts_before = faulty.discord.attempts
    records_before = _consumer_records(faulty)
    # the retry delays the consumer asks SQS for (ChangeMessageVisibility on the failed messages' receipts).
    delays: list[int] = []

    def record_delays(params: dict[str, Any], **_: Any) -> None:
        delays.extend(int(entry["VisibilityTimeout"]) for entry in params.get("Entries", [params]))

    sqs = faulty.function_env("consumer").client("sqs")
    events = (
        "provide-client-params.sqs.ChangeMessageVisibilityBatch",
        "provide-client-params.sqs.ChangeMessageVisibility",
    )
    for event in events:
        sqs.meta.events.register(event, record_delays, unique_id=f"fault-delays-{event}")
    try:
        for message in notifications:
            faulty.env.NOTIFICATION_QUEUE.send(message.to_wire())
        # When the consumer works through them (their backoff's seconds skipped, its attempts counted),
        report = faulty.poller.drain(bindings=["NOTIFICATION_QUEUE"], skip_retry_delays=True)
    finally:
        for event in events:
            sqs.meta.events.unregister(event, unique_id=f"fault-delays-{event}")

    # then each was tried max_receives times, backing off longer each time, and none reached anyone;
    assert faulty.discord.attempts - attempts_before == USERS * max_receives
    assert (report.records, report.failed, report.deleted) == (USERS * max_receives, USERS * max_receives, 0)
    backoff = [BACKOFF.delay(attempt) for attempt in range(1, max_receives + 1)]
    assert backoff == [5, 10, 20, 40]
    assert sorted(delays) == sorted(backoff * USERS)  # each message: 5, then 10, 20 and 40 s
    assert all(faulty.discord.deliveries(webhook) == [] for _, webhook in recipients)
    # every notification waits in the DLQ, and nothing is left in the queue.
    dead = _dead(faulty)
    assert sorted(m.id for m in notifications) == sorted(m.id for m in notifications if any(m.id in b for b in dead))
    assert faulty.poller.depth(faulty.poller.queue("NOTIFICATION_QUEUE")) == 0
    assert _consumer_records(faulty) == records_before  # a failed delivery keeps no record: its retry runs again

    # When Discord is back and the operator redrives the DLQ, as docs/operations.md says,
    faulty.discord.fail_next(0)
    url = faulty.queue_urls["NOTIFICATION_QUEUE"]
    assert ttai(["dlq", "redrive", "notifications", "--queue-url", url]) == 0
    faulty.poller.drain(bindings=["NOTIFICATION_QUEUE"])
    # then each user is told exactly once, and the DLQ is empty.
    assert [len(faulty.discord.deliveries(webhook)) for _, webhook in recipients] == [1] * USERS
    assert _dead(faulty) == []

    # Each delivery left an idempotency record (the failed attempts none), so a second copy of each (a redrive
    # repeated after a part-way failure left a message in both queues) posts nothing.
    assert _consumer_records(faulty) == records_before + USERS
    for message in notifications:
        faulty.env.NOTIFICATION_QUEUE.send(message.to_wire())
    again = faulty.poller.drain(bindings=["NOTIFICATION_QUEUE"])
    assert (again.records, again.failed, again.deleted) == (USERS, 0, USERS)
    assert [len(faulty.discord.deliveries(webhook)) for _, webhook in recipients] == [1] * USERS
    assert _consumer_records(faulty) == records_before + USERS


def _consumer_records(stack: LocalStack) -> int:
    """The consumer's idempotency records (one per message id it handled; the key is a digest of the id)."""
    table = stack.environ["TTAI_IDEMPOTENCY_TABLE"]
    key = stack.layout.idempotency.key_attr
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return sum(1 for page in pages for item in page["Items"] if item[key]["S"].startswith(IDEMPOTENCY_KEY_PREFIX))

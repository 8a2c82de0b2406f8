"""The consumer's AWS calls per message, by type and channel, counted on the local stack.

Each message is sent outside the count and delivered by the local poller (whose own receive and delete calls,
Lambda's side of the event source, are not counted); what is counted is what the consumer function itself calls:
the idempotency record (PutItem, then UpdateItem), the Data API, SQS sends, SES and SNS.
"""

from __future__ import annotations

import uuid

from benchmarks.measure import Meter
from benchmarks.report import Row
from local.stack import LocalStack
from ttai.messages import AlertTriggered, AnalysisComplete, Channel, Notification


def run() -> list[Row]:
    with LocalStack() as stack:
        assert stack.discord is not None
        env = stack.env
        count = Meter.for_stack(stack, extra_clients=("ses", "sns", "sqs"))
        user = f"bench-{uuid.uuid4().hex[:8]}"
        stack.token_for(user)
        env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind(f"{user}@example.com", user).run()
        env.DB.prepare(
            "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
        ).bind(user, ["discord", "email", "push"], stack.discord.new_webhook()).run()
        stack.poller.drain()  # import the consumer before counting

        budgets: dict[Channel, int] = {"push": 3, "email": 4, "discord": 3}
        for channel, budget in budgets.items():
            env.NOTIFICATION_QUEUE.send(Notification(user_id=user, channel=channel, title="t", body="b").to_wire())
            count(f"consumer: notification delivered by {channel}", stack.poller.drain, budget)
        env.NOTIFICATION_QUEUE.send(
            Notification(id="bench-duplicate", user_id=user, channel="push", title="t", body="b").to_wire()
        )
        stack.poller.drain()
        env.NOTIFICATION_QUEUE.send(
            Notification(id="bench-duplicate", user_id=user, channel="push", title="t", body="b").to_wire()
        )
        count("consumer: the same notification again (dropped)", stack.poller.drain, 1)

        analysis = AnalysisComplete(user_id=user, symbol="AAPL", recommendation="select", workflow_id="wf")
        env.ANALYSIS_QUEUE.send(analysis.to_wire())
        count(
            "consumer: analysis_complete fanned out to 3 channels",
            lambda: stack.poller.drain(bindings=["ANALYSIS_QUEUE"]),
            4,
        )
        stack.poller.drain()
        alert = (
            env.DB.prepare(
                "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold)"
                " VALUES (?, 'AAPL', 'price', 'above', 1) RETURNING id"
            )
            .bind(user)
            .first("id")
        )
        env.ANALYSIS_QUEUE.send(
            AlertTriggered(user_id=user, alert_id=alert, symbol="AAPL", condition="above", current_value=2).to_wire()
        )
        count(
            "consumer: alert_triggered (fired, event, 3 notifications)",
            lambda: stack.poller.drain(bindings=["ANALYSIS_QUEUE"]),
            4,
        )
        stack.poller.drain()
    return count.rows
